package agc

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The expected schedule values below are not computed by the functions
// under test: they were worked out with python3's mpmath at 50 digits
// from the schedule's definition and are written out as literals:
//
//	warmup = round(warmup_epochs * steps_per_epoch), halves away from 0,
//	         then capped at total-1; total = epochs * steps_per_epoch
//	lr(t)  = peak * t / warmup                                   0 <= t <= warmup (warmup > 0)
//	       = peak/2 * (1 + cos(pi * (t-warmup) / (total-warmup)))  warmup < t < total
//	       = 0                                                    t < 0 or t >= total
//	ema(t) = min(d, (1+t) / (10+t))
//
// Tolerances: an LR may differ from its exact value by 1e-15 of the peak
// rate (float64 rounding of the cosine's argument, the cosine and the sum
// is a few 1e-16 of the peak; near the end of the cosine that absolute
// error is all there is, so a relative bound would be meaningless), an
// EMA decay by 1e-15 relative.
const (
	lrTol  = 1e-15 // of the peak
	emaTol = 1e-15 // relative
)

// testRecipe is a valid recipe that each test adjusts.
func testRecipe() Recipe {
	return Recipe{Epochs: 10, LR: 0.4, WarmupEpochs: 0.25, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5,
		AGCClip: 0.01, AGCEps: 2e-3, AGCUnits: Timm, AGCExclude: []string{"head.fc"}, EMADecay: 0.99999}
}

func TestScheduleValues(t *testing.T) {
	type point struct {
		step int64
		lr   float64
	}
	tests := []struct {
		name           string
		epochs         int
		peak, warmupEp float64
		stepsPerEpoch  int
		warmup, total  int
		points         []point
	}{
		{
			// 0.25 * 10 = 2.5 rounds half away from zero to 3 (a
			// round-half-even would give 2).
			name: "fractional warmup, rounded up", epochs: 10, peak: 0.4, warmupEp: 0.25, stepsPerEpoch: 10,
			warmup: 3, total: 100,
			points: []point{
				{-1, 0},
				{0, 0},
				{1, 0.13333333333333333333},  // 0.4 * 1/3
				{2, 0.26666666666666666667},  // 0.4 * 2/3
				{3, 0.4},                     // the peak at the end of warmup
				{4, 0.39989511380910298104},  // 0.2 * (1 + cos(pi/97))
				{50, 0.20971244442288964532}, // 0.2 * (1 + cos(47pi/97))
				{99, 1.0488619089701896235e-4},
				{100, 0},
				{101, 0},
			},
		},
		{
			// 0.3 * 7 = 2.1 rounds down to 2.
			name: "fractional warmup, rounded down", epochs: 4, peak: 1.6, warmupEp: 0.3, stepsPerEpoch: 7,
			warmup: 2, total: 28,
			points: []point{
				{1, 0.8},
				{2, 1.6},
				{3, 1.5941670992784431942},     // 0.8 * (1 + cos(pi/26))
				{27, 5.8329007215568057594e-3}, // 0.8 * (1 + cos(25pi/26))
				{28, 0},
			},
		},
		{
			// No warmup: the cosine starts at the peak on step 0.
			name: "no warmup", epochs: 2, peak: 0.4, stepsPerEpoch: 10,
			warmup: 0, total: 20,
			points: []point{
				{0, 0.4},
				{1, 0.39753766811902754524}, // 0.2 * (1 + cos(pi/20))
				{10, 0.2},                   // half way through the cosine
				{19, 2.462331880972454762e-3},
				{20, 0},
			},
		},
		{
			// 2.96 * 10 = 29.6 rounds to 30, the whole run; the cap at
			// total-1 makes the last step the end of warmup, at the peak.
			name: "warmup rounding up to the end", epochs: 3, peak: 1, warmupEp: 2.96, stepsPerEpoch: 10,
			warmup: 29, total: 30,
			points: []point{
				{28, 0.96551724137931034483}, // 28/29
				{29, 1},
				{30, 0},
			},
		},
		{
			// round(0.9) = 1 = total, capped to 0: a one-step run at the peak.
			name: "one-step run", epochs: 1, peak: 0.5, warmupEp: 0.9, stepsPerEpoch: 1,
			warmup: 0, total: 1,
			points: []point{{0, 0.5}, {1, 0}},
		},
		{
			// The longest run NewSchedule accepts: 2^31-1 steps, warmup
			// round(1073741823.5) = 2^30. Steps past int32 must not wrap
			// into the warmup (2^32+5 would wrap to step 5).
			name: "steps beyond int32", epochs: 1, peak: 0.1, warmupEp: 0.5, stepsPerEpoch: math.MaxInt32,
			warmup: 1 << 30, total: math.MaxInt32,
			points: []point{
				{1 << 29, 0.05},
				{1 << 30, 0.1},
				{1<<30 + 357913941, 0.075}, // a third of the cosine's 1073741823 steps: 0.05 * (1 + cos(pi/3))
				{math.MaxInt32 - 1, 2.1401293106330171716e-19},
				{math.MaxInt32, 0},
				{1<<32 + 5, 0},
				{1 << 40, 0},
				{math.MaxInt64, 0},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecipe()
			r.Epochs, r.LR, r.WarmupEpochs = tc.epochs, tc.peak, tc.warmupEp
			s, err := NewSchedule(r, tc.stepsPerEpoch)
			if err != nil {
				t.Fatal(err)
			}
			if s.WarmupSteps() != tc.warmup || s.TotalSteps() != tc.total {
				t.Fatalf("warmup %d, total %d steps; want %d, %d", s.WarmupSteps(), s.TotalSteps(), tc.warmup, tc.total)
			}
			for _, p := range tc.points {
				if got := s.LR(p.step); math.Abs(got-p.lr) > lrTol*tc.peak {
					t.Errorf("LR(%d) = %.17g, want %.17g", p.step, got, p.lr)
				}
				if got := s.At(p.step).LR; got != s.LR(p.step) {
					t.Errorf("At(%d).LR = %v, LR(%d) = %v", p.step, got, p.step, s.LR(p.step))
				}
			}
		})
	}
}

func TestScheduleEMADecay(t *testing.T) {
	tests := []struct {
		decay float64
		step  int64
		want  float64
	}{
		{0.9999, -1, 0}, // (1-1)/(10-1): before the first step nothing is averaged yet
		{0.9999, 0, 0.1},
		{0.9999, 1, 0.18181818181818181818}, // 2/11
		{0.9999, 9, 0.52631578947368421053}, // 10/19
		{0.9999, 89989, 0.99989999888887654307},
		{0.9999, 89990, 0.9999}, // 89991/90000 = d: the ramp meets d
		{0.9999, 89991, 0.9999},
		{0.9999, 1 << 40, 0.9999},
		{0.99999, 89991, 0.99990000111109876557}, // 89992/90001, still ramping
		{0.99999, 1 << 40, 0.99999},
		{0.99999, math.MaxInt64, 0.99999},
		{0, 5, 0},
	}
	for _, tc := range tests {
		r := testRecipe()
		r.EMADecay = tc.decay
		s, err := NewSchedule(r, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.EMADecay(tc.step); math.Abs(got-tc.want) > emaTol*tc.want {
			t.Errorf("decay %v: EMADecay(%d) = %.17g, want %.17g", tc.decay, tc.step, got, tc.want)
		}
	}
}

// TestScheduleAt checks that At carries the recipe's constant settings
// beside the scheduled ones, and a step count the encoding can hold.
func TestScheduleAt(t *testing.T) {
	r := testRecipe()
	s, err := NewSchedule(r, 10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		step int64
		want Hyper
	}{
		{3, Hyper{LR: 0.4, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5, Lambda: 0.01, Eps: 2e-3,
			EMADecay: 4.0 / 13, Step: 3}},
		{-5, Hyper{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5, Lambda: 0.01, Eps: 2e-3, Step: 0}},
		{1 << 40, Hyper{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5, Lambda: 0.01, Eps: 2e-3,
			EMADecay: 0.99999, Step: math.MaxUint32}},
	}
	for _, tc := range tests {
		got := s.At(tc.step)
		if math.Abs(got.LR-tc.want.LR) > lrTol*r.LR || math.Abs(got.EMADecay-tc.want.EMADecay) > emaTol*tc.want.EMADecay {
			t.Errorf("At(%d): lr %v, ema decay %v; want %v, %v", tc.step, got.LR, got.EMADecay, tc.want.LR, tc.want.EMADecay)
		}
		got.LR, got.EMADecay, tc.want.LR, tc.want.EMADecay = 0, 0, 0, 0
		if got != tc.want {
			t.Errorf("At(%d) = %+v, want %+v", tc.step, got, tc.want)
		}
	}
}

func TestNewScheduleRejects(t *testing.T) {
	bad := testRecipe()
	bad.LR = 0
	long := testRecipe()
	long.Epochs, long.WarmupEpochs = 2, 0
	tests := []struct {
		name          string
		r             Recipe
		stepsPerEpoch int
		want          string
	}{
		{"invalid recipe", bad, 10, "recipe: lr: "},
		{"no steps", testRecipe(), 0, "0 steps per epoch"},
		{"negative steps", testRecipe(), -1, "-1 steps per epoch"},
		{"2^31 steps", long, 1 << 30, "too many steps"},
	}
	for _, tc := range tests {
		s, err := NewSchedule(tc.r, tc.stepsPerEpoch)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewSchedule = %v, %v; want an error containing %q", tc.name, s, err, tc.want)
		}
	}
}

// recipeFields are the JSON names Validate uses for the fields it checks.
var recipeFields = []string{"epochs", "lr", "warmup_epochs", "momentum", "weight_decay", "agc_clip", "agc_eps",
	"agc_units", "ema_decay"}

func TestRecipeValidate(t *testing.T) {
	tests := []struct {
		field string // "" for a valid recipe
		edit  func(*Recipe)
	}{
		{"", func(r *Recipe) {}},
		{"", func(r *Recipe) {
			// Every bound at its valid extreme.
			r.Epochs, r.WarmupEpochs, r.Momentum, r.WeightDecay, r.AGCClip, r.AGCEps, r.AGCUnits, r.EMADecay =
				1, 0.999, 0, 0, 0, 0, 0, 0
		}},
		{"", func(r *Recipe) { r.AGCUnits = DeepMind }},
		{"epochs", func(r *Recipe) { r.Epochs, r.WarmupEpochs = 0, 0 }},
		{"epochs", func(r *Recipe) { r.Epochs, r.WarmupEpochs = -1, 0 }},
		{"lr", func(r *Recipe) { r.LR = 0 }},
		{"lr", func(r *Recipe) { r.LR = -0.1 }},
		{"lr", func(r *Recipe) { r.LR = math.NaN() }},
		{"lr", func(r *Recipe) { r.LR = math.Inf(1) }},
		{"warmup_epochs", func(r *Recipe) { r.WarmupEpochs = -0.5 }},
		{"warmup_epochs", func(r *Recipe) { r.WarmupEpochs = math.NaN() }},
		{"warmup_epochs", func(r *Recipe) { r.WarmupEpochs = float64(r.Epochs) }},
		{"momentum", func(r *Recipe) { r.Momentum = -0.1 }},
		{"momentum", func(r *Recipe) { r.Momentum = 1 }},
		{"momentum", func(r *Recipe) { r.Momentum = math.NaN() }},
		{"weight_decay", func(r *Recipe) { r.WeightDecay = -1e-5 }},
		{"weight_decay", func(r *Recipe) { r.WeightDecay = math.Inf(1) }},
		{"weight_decay", func(r *Recipe) { r.WeightDecay = math.NaN() }},
		{"agc_clip", func(r *Recipe) { r.AGCClip = -0.01 }},
		{"agc_clip", func(r *Recipe) { r.AGCClip = math.Inf(1) }},
		{"agc_clip", func(r *Recipe) { r.AGCClip = math.NaN() }},
		{"agc_eps", func(r *Recipe) { r.AGCEps = -1e-3 }},
		{"agc_eps", func(r *Recipe) { r.AGCEps = math.Inf(1) }},
		{"agc_units", func(r *Recipe) { r.AGCUnits = Timm + 1 }},
		{"agc_units", func(r *Recipe) { r.AGCUnits = -1 }},
		{"ema_decay", func(r *Recipe) { r.EMADecay = 1 }},
		{"ema_decay", func(r *Recipe) { r.EMADecay = -0.1 }},
		{"ema_decay", func(r *Recipe) { r.EMADecay = math.NaN() }},
	}
	for i, tc := range tests {
		r := testRecipe()
		tc.edit(&r)
		err := r.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("case %d: %+v: %v", i, r, err)
			}
			continue
		}
		// The bad field, and only it, named as "recipe: <field>: ".
		if err == nil || !strings.Contains(err.Error(), "recipe: "+tc.field+": ") || strings.Count(err.Error(), "recipe: ") != 1 {
			t.Errorf("case %d: %+v: err = %v, want one error naming %s", i, r, err, tc.field)
		}
	}

	// Everything wrong at once: one error per field.
	all := Recipe{Epochs: 0, LR: math.NaN(), WarmupEpochs: -1, Momentum: 1, WeightDecay: -1, AGCClip: math.Inf(1),
		AGCEps: -1, AGCUnits: 9, EMADecay: 1}
	err := all.Validate()
	if err == nil {
		t.Fatal("a recipe with every field wrong passed")
	}
	for _, f := range recipeFields {
		if !strings.Contains(err.Error(), "recipe: "+f+": ") {
			t.Errorf("error does not name %s:\n%v", f, err)
		}
	}
	if n := strings.Count(err.Error(), "recipe: "); n != len(recipeFields) {
		t.Errorf("%d errors, want %d:\n%v", n, len(recipeFields), err)
	}
}

func TestRecipeClips(t *testing.T) {
	tests := []struct {
		name      string
		clip      float64
		exclude   []string
		skipGains bool
		param     string
		skipGain  bool
		want      bool
	}{
		{"clipped", 0.01, nil, false, "stem.conv0.weight", false, true},
		{"exact name", 0.01, []string{"head.fc.weight"}, false, "head.fc.weight", false, false},
		{"exact name spares siblings", 0.01, []string{"head.fc.weight"}, false, "head.fc.bias", false, true},
		{"module prefix", 0.01, []string{"head.fc"}, false, "head.fc.weight", false, false},
		{"module prefix, bias", 0.01, []string{"head.fc"}, false, "head.fc.bias", false, false},
		{"module itself", 0.01, []string{"head.fc"}, false, "head.fc", false, false},
		{"slash-separated path", 0.01, []string{"head.fc"}, false, "head.fc/w", false, false},
		{"longer name is another module", 0.01, []string{"head.fc"}, false, "head.fcx.weight", false, true},
		{"parent not excluded", 0.01, []string{"head.fc"}, false, "head", false, true},
		{"one of several", 0.01, []string{"stem", "head.fc"}, false, "head.fc.weight", false, false},
		{"skip gain exempt", 0.01, nil, false, "stages.0.0.skip_gain", true, false},
		{"skip gain clipped on request", 0.01, nil, true, "stages.0.0.skip_gain", true, true},
		{"skip gain excluded by name", 0.01, []string{"stages.0"}, true, "stages.0.0.skip_gain", true, false},
		{"AGC off", 0, nil, false, "stem.conv0.weight", false, false},
		{"AGC off, skip gains on", 0, nil, true, "stages.0.0.skip_gain", true, false},
	}
	for _, tc := range tests {
		r := Recipe{AGCClip: tc.clip, AGCExclude: tc.exclude, AGCSkipGains: tc.skipGains}
		if got := r.Clips(tc.param, tc.skipGain); got != tc.want {
			t.Errorf("%s: Clips(%q, %v) = %v, want %v", tc.name, tc.param, tc.skipGain, got, tc.want)
		}
	}
}

// TestRecipeJSON checks that a checkpoint's recipe names its unit rule
// and reads back to the same recipe.
func TestRecipeJSON(t *testing.T) {
	for _, tc := range []struct {
		units UnitRule
		text  string // "" when the field is omitted
	}{
		{0, ""},
		{DeepMind, `"agc_units":"deepmind"`},
		{Timm, `"agc_units":"timm"`},
	} {
		r := testRecipe()
		r.AGCUnits = tc.units
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%v: %v", tc.units, err)
		}
		if tc.text != "" && !strings.Contains(string(b), tc.text) || tc.text == "" && strings.Contains(string(b), "agc_units") {
			t.Errorf("%v: %s, want %q", tc.units, b, tc.text)
		}
		var back Recipe
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v: %s: %v", tc.units, b, err)
		}
		if back.AGCUnits != tc.units || back.Units() != r.Units() || back.EMADecay != r.EMADecay ||
			len(back.AGCExclude) != 1 || back.AGCExclude[0] != "head.fc" {
			t.Errorf("%v: read back %+v from %s", tc.units, back, b)
		}
	}

	r := testRecipe()
	r.AGCUnits = Timm + 1
	if b, err := json.Marshal(r); err == nil {
		t.Errorf("unit rule %d marshalled as %s", int(r.AGCUnits), b)
	}
	for _, in := range []string{`{"agc_units":"bogus"}`, `{"agc_units":""}`, `{"agc_units":"DeepMind"}`, `{"agc_units":2}`} {
		var back Recipe
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("%s read as %v", in, back.AGCUnits)
		}
	}
	if (Recipe{}).Units() != DeepMind {
		t.Errorf("default unit rule %v, want deepmind", (Recipe{}).Units())
	}
}
