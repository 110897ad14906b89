package train

import (
	"fmt"
	"math"

	"github.com/nfvk/nfvk/agc"
)

// ScheduleConfig describes a run's learning-rate and EMA schedules.
type ScheduleConfig struct {
	// BaseLR is the peak learning rate, or the rate per 256 images when
	// ScaleByBatch is set.
	BaseLR float64
	// ScaleByBatch makes the peak BaseLR * BatchSize / 256 (agc.ScaleLR),
	// the NFNet paper's rule, so a recipe carries over between batch sizes.
	ScaleByBatch bool
	BatchSize    int
	// WarmupEpochs of linear warmup from 0 (fractions allowed; rounded to
	// whole steps). DeepMind warms up for 5 of 360 ImageNet epochs.
	WarmupEpochs float64
	// Epochs and StepsPerEpoch give the run's length; the cosine reaches 0
	// at Epochs*StepsPerEpoch steps.
	Epochs        int
	StepsPerEpoch int
	// EMADecay is the weight EMA's decay (DeepMind 0.99999); agc.EMADecay
	// ramps it up from 0.1 over the first steps.
	EMADecay float64
}

// Schedule gives the learning rate and EMA decay of every step of a run:
// linear warmup, then cosine decay to 0 at the last step (agc.WarmupCosine),
// and agc.EMADecay. It holds no state, so a resumed run gets the same
// values from the step count alone.
type Schedule struct {
	peak          float64
	warmup, total int
	decay         float64
}

// NewSchedule validates cfg.
func NewSchedule(cfg ScheduleConfig) (*Schedule, error) {
	switch {
	case !(cfg.BaseLR > 0) || math.IsInf(cfg.BaseLR, 0):
		return nil, fmt.Errorf("train: schedule: base lr %v, want > 0 and finite", cfg.BaseLR)
	case cfg.ScaleByBatch && cfg.BatchSize <= 0:
		return nil, fmt.Errorf("train: schedule: batch size %d, want > 0 to scale the lr by it", cfg.BatchSize)
	case cfg.Epochs <= 0 || cfg.StepsPerEpoch <= 0:
		return nil, fmt.Errorf("train: schedule: %d epochs of %d steps, want both > 0", cfg.Epochs, cfg.StepsPerEpoch)
	case int64(cfg.Epochs)*int64(cfg.StepsPerEpoch) > math.MaxInt32:
		return nil, fmt.Errorf("train: schedule: %d epochs of %d steps is too many steps", cfg.Epochs, cfg.StepsPerEpoch)
	case !(cfg.WarmupEpochs >= 0) || cfg.WarmupEpochs >= float64(cfg.Epochs):
		return nil, fmt.Errorf("train: schedule: warmup of %v epochs, want in [0, %d)", cfg.WarmupEpochs, cfg.Epochs)
	case !(cfg.EMADecay >= 0 && cfg.EMADecay <= 1):
		return nil, fmt.Errorf("train: schedule: ema decay %v outside [0, 1]", cfg.EMADecay)
	}
	s := &Schedule{
		peak:   cfg.BaseLR,
		total:  cfg.Epochs * cfg.StepsPerEpoch,
		warmup: int(math.Round(cfg.WarmupEpochs * float64(cfg.StepsPerEpoch))),
		decay:  cfg.EMADecay,
	}
	if cfg.ScaleByBatch {
		s.peak = agc.ScaleLR(cfg.BaseLR, cfg.BatchSize)
	}
	// Rounding can only bring a fractional warmup up to total when the
	// run is shorter than one step past it; keep a cosine phase of at least
	// one step, so the last step's rate is below the peak.
	s.warmup = min(s.warmup, s.total-1)
	return s, nil
}

// LR returns the learning rate of step (0-based): 0 at step 0, the peak at
// the end of warmup, falling to 0 at TotalSteps (and 0 beyond).
func (s *Schedule) LR(step int64) float64 {
	return agc.WarmupCosine(clampStep(step), s.warmup, s.total, s.peak)
}

// EMADecay returns the decay to use in the EMA update after step (0-based).
func (s *Schedule) EMADecay(step int64) float64 {
	return agc.EMADecay(s.decay, clampStep(step))
}

// clampStep keeps a step count within int32, where agc's int arithmetic is
// exact on every platform; beyond it both schedules are constant anyway.
func clampStep(step int64) int {
	return int(max(min(step, math.MaxInt32), -1))
}

// PeakLR is the learning rate at the end of warmup.
func (s *Schedule) PeakLR() float64 { return s.peak }

// WarmupSteps is the number of warmup steps.
func (s *Schedule) WarmupSteps() int { return s.warmup }

// TotalSteps is the number of steps of the run.
func (s *Schedule) TotalSteps() int { return s.total }
