package agc

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Recipe is the optimizer and its schedule, the one place every setting
// of an NFNet update lives: the CLI binds its flags to it, checkpoints
// store it, the training graph's builder reads the recording-time parts
// (AGC's unit rule and exclusions) and a Schedule turns the rest into the
// per-step values (Hyper) the recorded step reads. The JSON names are
// those of a checkpoint's recipe.
type Recipe struct {
	// Epochs is the run's length: the cosine reaches 0 at its end.
	Epochs int `json:"epochs"`
	// LR is the peak learning rate, reached after WarmupEpochs of linear
	// warmup from 0 (fractions allowed, rounded to whole steps); then
	// cosine decay to 0 (DeepMind's WarmupCosineDecay).
	LR           float64 `json:"lr"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	// Momentum and Nesterov configure SGD; WeightDecay applies to the
	// tensors a model marks for it (weights, not gains and biases).
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	WeightDecay float64 `json:"weight_decay"`
	// AGCClip is adaptive gradient clipping's lambda (0: off).
	AGCClip float64 `json:"agc_clip"`
	// AGCEps floors the parameter norm (0: DefaultEps).
	AGCEps float64 `json:"agc_eps,omitempty"`
	// AGCUnits is the unit rule (0: DeepMind, the spec's).
	AGCUnits UnitRule `json:"agc_units,omitempty"`
	// AGCExclude names parameters AGC leaves alone; a module path (e.g.
	// "head.fc") excludes every parameter under it.
	AGCExclude []string `json:"agc_exclude,omitempty"`
	// AGCSkipGains makes AGC clip the NFNet blocks' skip gains too, as
	// DeepMind and timm do. Without it they are left alone: a skip gain
	// is a scalar initialised to 0, so AGC's floor (eps times lambda)
	// holds its gradient to ~4e-5 and every residual branch stays shut
	// for epochs, time a short run never recovers.
	AGCSkipGains bool `json:"agc_skip_gains,omitempty"`
	// EMADecay is the weight EMA's decay, ramped up by EMADecay(d, t).
	EMADecay float64 `json:"ema_decay"`
	// LRScaleBatch makes LR the rate per 256 images, DeepMind's rule: the
	// peak is LR * batch/256 for the run's (global) batch (Scaled).
	LRScaleBatch bool `json:"lr_scale_batch,omitempty"`
	// HeadLRMult multiplies the classifier's learning rate (0 means 1):
	// a new head on a pretrained body learns faster.
	HeadLRMult float64 `json:"head_lr_mult,omitempty"`
	// Freeze names parameters (or module prefixes, as AGCExclude) the
	// step neither updates nor clips; their gradients are not computed
	// where the graph can prune them.
	Freeze []string `json:"freeze,omitempty"`
}

// matches reports whether name is one of patterns or lies under one of
// them as a module path ("head.fc" matches "head.fc.weight").
func matches(patterns []string, name string) bool {
	for _, e := range patterns {
		if name == e || (strings.HasPrefix(name, e) && (name[len(e)] == '.' || name[len(e)] == '/')) {
			return true
		}
	}
	return false
}

// Frozen reports whether the step leaves the named parameter alone.
func (r Recipe) Frozen(name string) bool { return matches(r.Freeze, name) }

// HeadMult is the classifier's learning-rate multiplier (1 by default).
func (r Recipe) HeadMult() float64 {
	if r.HeadLRMult == 0 {
		return 1
	}
	return r.HeadLRMult
}

// Scaled returns r with LR scaled to a run of the given (global) batch
// when LRScaleBatch is set (ScaleLR), and r unchanged otherwise.
func (r Recipe) Scaled(batch int) Recipe {
	if r.LRScaleBatch {
		r.LR = ScaleLR(r.LR, batch)
		r.LRScaleBatch = false
	}
	return r
}

// Units is the unit rule with the default applied.
func (r Recipe) Units() UnitRule {
	if r.AGCUnits == 0 {
		return DeepMind
	}
	return r.AGCUnits
}

// Clips reports whether AGC clips the named parameter (skipGain: the
// parameter is an NFNet block's skip gain).
func (r Recipe) Clips(name string, skipGain bool) bool {
	if r.AGCClip == 0 || (skipGain && !r.AGCSkipGains) || r.Frozen(name) {
		return false
	}
	return !matches(r.AGCExclude, name)
}

// Validate checks every field, naming the bad ones.
func (r Recipe) Validate() error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("recipe: %s: "+format, append([]any{field}, args...)...))
	}
	if r.Epochs < 1 {
		bad("epochs", "%d, want >= 1", r.Epochs)
	}
	if !(r.LR > 0) || math.IsInf(r.LR, 0) {
		bad("lr", "%v, want > 0", r.LR)
	}
	if !(r.WarmupEpochs >= 0) || r.WarmupEpochs >= float64(max(r.Epochs, 1)) {
		bad("warmup_epochs", "%v, want in [0, epochs %d)", r.WarmupEpochs, r.Epochs)
	}
	if !(r.Momentum >= 0 && r.Momentum < 1) {
		bad("momentum", "%v, want in [0, 1)", r.Momentum)
	}
	if !(r.WeightDecay >= 0) || math.IsInf(r.WeightDecay, 0) {
		bad("weight_decay", "%v, want >= 0", r.WeightDecay)
	}
	if !(r.AGCClip >= 0) || math.IsInf(r.AGCClip, 0) {
		bad("agc_clip", "%v, want >= 0", r.AGCClip)
	}
	if !(r.AGCEps >= 0) || math.IsInf(r.AGCEps, 0) {
		bad("agc_eps", "%v, want >= 0 (0: %v)", r.AGCEps, DefaultEps)
	}
	if r.AGCUnits != 0 && r.AGCUnits != DeepMind && r.AGCUnits != Timm {
		bad("agc_units", "%v, want deepmind or timm", r.AGCUnits)
	}
	if !(r.EMADecay >= 0 && r.EMADecay < 1) {
		bad("ema_decay", "%v, want in [0, 1)", r.EMADecay)
	}
	if !(r.HeadLRMult >= 0) || math.IsInf(r.HeadLRMult, 0) {
		bad("head_lr_mult", "%v, want >= 0 (0: 1)", r.HeadLRMult)
	}
	return errors.Join(errs...)
}

// MarshalText writes the rule's name ("deepmind", "timm").
func (u UnitRule) MarshalText() ([]byte, error) {
	if u != DeepMind && u != Timm {
		return nil, fmt.Errorf("agc: unit rule %d has no name", int(u))
	}
	return []byte(u.String()), nil
}

// UnmarshalText reads a rule's name.
func (u *UnitRule) UnmarshalText(b []byte) error {
	r, err := ParseUnitRule(string(b))
	if err == nil {
		*u = r
	}
	return err
}

// ParseUnitRule returns the rule named "deepmind" or "timm".
func ParseUnitRule(s string) (UnitRule, error) {
	switch s {
	case "deepmind":
		return DeepMind, nil
	case "timm":
		return Timm, nil
	}
	return 0, fmt.Errorf("agc: unit rule %q: want deepmind or timm", s)
}

// Schedule gives the per-step values of a run: the learning rate of
// linear warmup then cosine decay to 0 at the last step (WarmupCosine),
// and the EMA decay (EMADecay). It holds no state, so a resumed run gets
// the same values from the step count alone.
type Schedule struct {
	r             Recipe
	warmup, total int
}

// NewSchedule returns r's schedule for a run of stepsPerEpoch steps per
// epoch.
func NewSchedule(r Recipe, stepsPerEpoch int) (*Schedule, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("agc: schedule: %w", err)
	}
	if stepsPerEpoch <= 0 {
		return nil, fmt.Errorf("agc: schedule: %d steps per epoch, want > 0", stepsPerEpoch)
	}
	if int64(r.Epochs)*int64(stepsPerEpoch) > math.MaxInt32 {
		return nil, fmt.Errorf("agc: schedule: %d epochs of %d steps is too many steps", r.Epochs, stepsPerEpoch)
	}
	s := &Schedule{r: r, total: r.Epochs * stepsPerEpoch,
		warmup: int(math.Round(r.WarmupEpochs * float64(stepsPerEpoch)))}
	// Rounding can only bring a fractional warmup up to total when the
	// run is shorter than one step past it; the warmup then ends at the
	// last step, which runs at the peak (WarmupCosine needs warmup <
	// total).
	s.warmup = min(s.warmup, s.total-1)
	return s, nil
}

// LR returns the learning rate of step (0-based): 0 at step 0, the peak at
// the end of warmup, falling to 0 at TotalSteps (and 0 beyond).
func (s *Schedule) LR(step int64) float64 {
	return WarmupCosine(clampStep(step), s.warmup, s.total, s.r.LR)
}

// EMADecay returns the decay of the EMA update after step (0-based).
func (s *Schedule) EMADecay(step int64) float64 {
	return EMADecay(s.r.EMADecay, clampStep(step))
}

// At returns every per-step value of step (0-based).
func (s *Schedule) At(step int64) Hyper {
	return Hyper{LR: s.LR(step), Momentum: s.r.Momentum, Nesterov: s.r.Nesterov, WeightDecay: s.r.WeightDecay,
		Lambda: s.r.AGCClip, Eps: s.r.AGCEps, EMADecay: s.EMADecay(step), Step: max(min(step, math.MaxUint32), 0)}
}

// clampStep keeps a step count within int32, where the int arithmetic of
// WarmupCosine and EMADecay is exact on every platform; beyond it the rate
// is 0 and the EMA decay (1+t)/(10+t) is within 5e-9 of 1, the decay
// itself for any d below 0.999999995.
func clampStep(step int64) int {
	return int(max(min(step, math.MaxInt32), -1))
}

// WarmupSteps is the number of warmup steps.
func (s *Schedule) WarmupSteps() int { return s.warmup }

// TotalSteps is the number of steps of the run.
func (s *Schedule) TotalSteps() int { return s.total }
