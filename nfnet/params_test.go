package nfnet

import (
	"bufio"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/internal/fixtures"
)

// fixturePath returns the path of a timm reference file; a missing one
// fails the test.
func fixturePath(t *testing.T, name string) string {
	t.Helper()
	return fixtures.Path(t, name)
}

type namedShape struct {
	name  string
	shape []int
}

// readShapes parses a "name<TAB>[d0, d1, ...]" listing.
func readShapes(t *testing.T, path string) []namedShape {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []namedShape
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		name, dims, ok := strings.Cut(text, "\t")
		if !ok {
			t.Fatalf("%s:%d: no tab in %q", path, line, text)
		}
		dims = strings.TrimSpace(dims)
		if !strings.HasPrefix(dims, "[") || !strings.HasSuffix(dims, "]") {
			t.Fatalf("%s:%d: bad shape %q", path, line, dims)
		}
		shape := []int{}
		if inner := strings.TrimSpace(dims[1 : len(dims)-1]); inner != "" {
			for _, d := range strings.Split(inner, ",") {
				v, err := strconv.Atoi(strings.TrimSpace(d))
				if err != nil {
					t.Fatalf("%s:%d: %v", path, line, err)
				}
				shape = append(shape, v)
			}
		}
		out = append(out, namedShape{name, shape})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compareSpecs(t *testing.T, got []ParamSpec, want []namedShape) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d tensors, want %d", len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i].Name != want[i].name || !reflect.DeepEqual(got[i].Shape, want[i].shape) {
			t.Errorf("tensor %d: got %s %v, want %s %v", i, got[i].Name, got[i].Shape, want[i].name, want[i].shape)
		}
	}
}

func numelOf(shapes []namedShape) int64 {
	var n int64
	for _, s := range shapes {
		p := int64(1)
		for _, d := range s.shape {
			p *= int64(d)
		}
		n += p
	}
	return n
}

// TestTimmParamListings checks names, shapes and order against timm's
// state_dict listings.
func TestTimmParamListings(t *testing.T) {
	tests := []struct {
		name        string
		config      func(t *testing.T) Config
		listing     string
		wantTensors int
		wantParams  int64
	}{
		{"dm_nfnet_f0", func(t *testing.T) Config {
			c, err := Variant("dm_nfnet_f0")
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, "f0_param_shapes.txt", 233, 71_489_284},
		{"small_config.json", func(t *testing.T) Config {
			c, err := LoadConfig(fixturePath(t, "small_config.json"))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, "small_param_shapes.txt", 114, 810_539},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := readShapes(t, fixturePath(t, tc.listing))
			if len(want) != tc.wantTensors || numelOf(want) != tc.wantParams {
				t.Fatalf("listing %s has %d tensors / %d params, README says %d / %d",
					tc.listing, len(want), numelOf(want), tc.wantTensors, tc.wantParams)
			}
			specs, err := Params(tc.config(t))
			if err != nil {
				t.Fatal(err)
			}
			compareSpecs(t, specs, want)
			if got := CountParams(specs); got != tc.wantParams {
				t.Errorf("CountParams = %d, want %d", got, tc.wantParams)
			}
		})
	}
}

// TestVariantCountsAndMACs checks the spec's exact parameter and MAC counts
// (MACs at the test resolution).
func TestVariantCountsAndMACs(t *testing.T) {
	tests := []struct {
		variant string
		params  int64
		macs    int64
	}{
		{"f0", 71_489_284, 12_384_198_656},
		{"f1", 132_634_256, 35_538_968_576},
		{"f2", 193_779_228, 62_592_978_944},
		{"f3", 254_924_200, 114_763_501_568},
		{"f4", 316_069_172, 215_241_187_328},
		{"f5", 377_214_144, 289_757_106_176},
		{"f6", 438_359_116, 377_280_307_200},
		{"f7", 499_504_088, 478_781_640_704},
		{"f0+", 118_824_516, 19_520_208_896},
		// timm's dm_ models are the same networks.
		{"dm_nfnet_f0", 71_489_284, 12_384_198_656},
		{"dm_nfnet_f6", 438_359_116, 377_280_307_200},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			cfg, err := Variant(tc.variant)
			if err != nil {
				t.Fatal(err)
			}
			specs, err := Params(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := CountParams(specs); got != tc.params {
				t.Errorf("params = %d, want %d", got, tc.params)
			}
			_, test, err := VariantResolution(tc.variant)
			if err != nil {
				t.Fatal(err)
			}
			macs, err := MACs(cfg, test, test)
			if err != nil {
				t.Fatal(err)
			}
			if macs != tc.macs {
				t.Errorf("MACs at %dpx = %d, want %d", test, macs, tc.macs)
			}
		})
	}
}

// TestDeepMindNames checks DeepMind's haiku naming of the F variants and
// that only the names differ from timm's dm_nfnet model.
func TestDeepMindNames(t *testing.T) {
	dm, err := Variant("f0")
	if err != nil {
		t.Fatal(err)
	}
	dmSpecs, err := Params(dm)
	if err != nil {
		t.Fatal(err)
	}
	timm, err := Variant("dm_nfnet_f0")
	if err != nil {
		t.Fatal(err)
	}
	timmSpecs, err := Params(timm)
	if err != nil {
		t.Fatal(err)
	}
	if len(dmSpecs) != len(timmSpecs) {
		t.Fatalf("f0 has %d tensors, dm_nfnet_f0 %d", len(dmSpecs), len(timmSpecs))
	}
	pairs := map[string]string{}
	for i := range dmSpecs {
		if !reflect.DeepEqual(dmSpecs[i].Shape, timmSpecs[i].Shape) || dmSpecs[i].Kind != timmSpecs[i].Kind {
			t.Errorf("tensor %d: f0 %s %v %v, dm_nfnet_f0 %s %v %v", i,
				dmSpecs[i].Name, dmSpecs[i].Shape, dmSpecs[i].Kind, timmSpecs[i].Name, timmSpecs[i].Shape, timmSpecs[i].Kind)
		}
		pairs[timmSpecs[i].Name] = dmSpecs[i].Name
	}
	for timmName, dmName := range map[string]string{
		"stem.conv1.weight":                 "NFNet/~/stem_conv0/w",
		"stem.conv4.gain":                   "NFNet/~/stem_conv3/gain",
		"stages.0.0.skipinit_gain":          "NFNet/~/nf_block/skip_gain",
		"stages.0.0.downsample.conv.weight": "NFNet/~/nf_block/~/conv_shortcut/w",
		"stages.1.1.conv1.bias":             "NFNet/~/nf_block_2/~/conv0/bias",
		"stages.1.1.conv2.weight":           "NFNet/~/nf_block_2/~/conv1/w",
		"stages.1.1.conv2b.weight":          "NFNet/~/nf_block_2/~/conv1b/w",
		"stages.1.1.conv3.gain":             "NFNet/~/nf_block_2/~/conv2/gain",
		"stages.3.2.attn_last.fc1.weight":   "NFNet/~/nf_block_11/~/squeeze_excite/~/linear/w",
		"stages.3.2.attn_last.fc2.bias":     "NFNet/~/nf_block_11/~/squeeze_excite/~/linear_1/b",
		"final_conv.weight":                 "NFNet/~/final_conv/w",
		"head.fc.weight":                    "NFNet/~/linear/w",
		"head.fc.bias":                      "NFNet/~/linear/b",
	} {
		if got := pairs[timmName]; got != dmName {
			t.Errorf("DeepMind name of %s = %q, want %q", timmName, got, dmName)
		}
	}
}

// TestParamNamesUnique checks every variant names each tensor once.
func TestParamNamesUnique(t *testing.T) {
	for _, v := range Variants() {
		cfg, err := Variant(v)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := Params(cfg)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		seen := map[string]bool{}
		for _, s := range specs {
			if seen[s.Name] {
				t.Errorf("%s: duplicate name %s", v, s.Name)
			}
			seen[s.Name] = true
		}
	}
}

// TestSpecRoles checks kinds, fan-ins, weight decay and init rules.
func TestSpecRoles(t *testing.T) {
	cfg, err := Variant("dm_nfnet_f0")
	if err != nil {
		t.Fatal(err)
	}
	specs, err := Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ParamSpec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	tests := []struct {
		name      string
		kind      Kind
		fanIn     int
		decay     bool
		classif   bool
		initStd   float64
		initValue float64
	}{
		{"stem.conv1.weight", ConvWeight, 27, true, false, 1 / math.Sqrt(27), 0},
		{"stem.conv1.bias", Bias, 0, false, false, 0, 0},
		{"stem.conv1.gain", Gain, 0, false, false, 0, 1},
		{"stages.2.0.conv2.weight", ConvWeight, 128 * 9, true, false, 1 / math.Sqrt(128*9), 0},
		{"stages.2.0.conv3.gain", Gain, 0, false, false, 0, 1},
		{"stages.2.0.skipinit_gain", SkipGain, 0, false, false, 0, 0},
		{"stages.2.0.attn_last.fc1.weight", SEWeight, 1536, true, false, 1 / math.Sqrt(1536), 0},
		{"stages.2.0.attn_last.fc2.weight", SEWeight, 768, true, false, 1 / math.Sqrt(768), 0},
		{"stages.2.0.attn_last.fc2.bias", Bias, 0, false, false, 0, 0},
		{"head.fc.weight", LinearWeight, 3072, true, true, 0.01, 0},
		{"head.fc.bias", Bias, 0, false, true, 0, 0},
	}
	for _, tc := range tests {
		s, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if s.Kind != tc.kind || s.FanIn != tc.fanIn || s.WeightDecay != tc.decay || s.Classifier != tc.classif ||
			math.Abs(s.InitStd-tc.initStd) > 1e-15 || s.InitValue != tc.initValue {
			t.Errorf("%s: got kind %v fanin %d decay %v classifier %v std %v value %v; want %v %d %v %v %v %v",
				tc.name, s.Kind, s.FanIn, s.WeightDecay, s.Classifier, s.InitStd, s.InitValue,
				tc.kind, tc.fanIn, tc.decay, tc.classif, tc.initStd, tc.initValue)
		}
	}

	// Without skipinit timm zero-initialises conv3's gain instead.
	cfg.Skipinit = false
	cfg.ZeroInitFC = true
	specs, err = Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		switch {
		case s.Kind == SkipGain:
			t.Errorf("skip gain %s present without skipinit", s.Name)
		case s.Kind == Gain && strings.HasPrefix(s.Name, "stages.") && strings.HasSuffix(s.Name, ".conv3.gain") && s.InitValue != 0:
			t.Errorf("%s init %v without skipinit, want 0", s.Name, s.InitValue)
		case s.Name == "head.fc.weight" && (s.InitStd != 0 || s.InitValue != 0):
			t.Errorf("head.fc.weight with zero_init_fc: std %v value %v, want 0", s.InitStd, s.InitValue)
		}
	}
}

func TestInit(t *testing.T) {
	cfg, err := LoadConfig(fixturePath(t, "small_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Init(specs, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Init(specs, 7)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Init(specs, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different tensors")
	}
	// A tensor's values must not depend on the other specs.
	sub, err := Init(specs[len(specs)-3:], 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sub, a[len(a)-3:]) {
		t.Error("tensor values depend on which other specs are initialised")
	}
	for i, s := range specs {
		if len(a[i]) != s.Numel() {
			t.Fatalf("%s: %d values, want %d", s.Name, len(a[i]), s.Numel())
		}
		if s.InitStd > 0 {
			if reflect.DeepEqual(a[i], c[i]) {
				t.Errorf("%s: seeds 7 and 8 gave equal values", s.Name)
			}
			continue
		}
		for _, v := range a[i] {
			if float64(v) != s.InitValue {
				t.Fatalf("%s: value %v, want constant %v", s.Name, v, s.InitValue)
			}
		}
	}

	// Sample moments of large tensors match the requested normal.
	big, err := Variant("dm_nfnet_f0")
	if err != nil {
		t.Fatal(err)
	}
	bigSpecs, err := Params(big)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bigSpecs {
		if s.Name != "stages.2.0.conv1.weight" && s.Name != "head.fc.weight" {
			continue
		}
		vals, err := Init([]ParamSpec{s}, 1)
		if err != nil {
			t.Fatal(err)
		}
		var sum, sq float64
		for _, v := range vals[0] {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(vals[0]))
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		// n >= 393216: the sample std's relative error is ~0.11%.
		if math.Abs(mean) > 5*s.InitStd/math.Sqrt(n) || math.Abs(std/s.InitStd-1) > 0.01 {
			t.Errorf("%s: sample mean %v std %v, want 0 and %v", s.Name, mean, std, s.InitStd)
		}
	}
}

func TestInitRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name  string
		specs []ParamSpec
	}{
		{"empty name", []ParamSpec{{Shape: []int{2}}}},
		{"duplicate", []ParamSpec{{Name: "a", Shape: []int{2}}, {Name: "a", Shape: []int{2}}}},
		{"zero dim", []ParamSpec{{Name: "a", Shape: []int{2, 0}}}},
		{"negative dim", []ParamSpec{{Name: "a", Shape: []int{-1}}}},
		{"huge", []ParamSpec{{Name: "a", Shape: []int{1 << 30, 1 << 30, 1 << 30}}}},
		{"negative std", []ParamSpec{{Name: "a", Shape: []int{2}, InitStd: -1}}},
		{"nan value", []ParamSpec{{Name: "a", Shape: []int{2}, InitValue: math.NaN()}}},
	}
	for _, tc := range tests {
		if _, err := Init(tc.specs, 0); err == nil {
			t.Errorf("%s: Init accepted %+v", tc.name, tc.specs)
		}
	}
	// A 0-d scalar has one element.
	v, err := Init([]ParamSpec{{Name: "s", Shape: []int{}, InitValue: 0.5}}, 0)
	if err != nil || len(v[0]) != 1 || v[0][0] != 0.5 {
		t.Errorf("0-d init = %v, %v; want [0.5]", v, err)
	}
}
