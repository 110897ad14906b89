package train

import (
	"math"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		name          string
		cfg           ScheduleConfig
		peak          float64
		warmup, total int
	}{
		{"batch-scaled", ScheduleConfig{BaseLR: 0.1, ScaleByBatch: true, BatchSize: 512, WarmupEpochs: 1, Epochs: 5, StepsPerEpoch: 117, EMADecay: 0.99999},
			0.2, 117, 585},
		{"unscaled, fractional warmup", ScheduleConfig{BaseLR: 0.1, BatchSize: 128, WarmupEpochs: 0.5, Epochs: 3, StepsPerEpoch: 469, EMADecay: 0.999},
			0.1, 235, 1407}, // round(234.5) = 235
		{"no warmup", ScheduleConfig{BaseLR: 0.4, Epochs: 2, StepsPerEpoch: 10, EMADecay: 0.99},
			0.4, 0, 20},
		{"warmup rounding up to the end", ScheduleConfig{BaseLR: 1, WarmupEpochs: 0.9, Epochs: 1, StepsPerEpoch: 1},
			1, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchedule(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.PeakLR() != tc.peak || s.WarmupSteps() != tc.warmup || s.TotalSteps() != tc.total {
				t.Fatalf("peak %v warmup %d total %d, want %v %d %d", s.PeakLR(), s.WarmupSteps(), s.TotalSteps(), tc.peak, tc.warmup, tc.total)
			}
			// The boundaries, each against agc's own function.
			for _, step := range []int{0, 1, tc.warmup - 1, tc.warmup, tc.warmup + 1, tc.total - 1, tc.total, tc.total + 5} {
				if step < 0 {
					continue
				}
				want := agc.WarmupCosine(step, tc.warmup, tc.total, tc.peak)
				if got := s.LR(int64(step)); got != want {
					t.Errorf("LR(%d) = %v, want %v", step, got, want)
				}
				wantEMA := agc.EMADecay(tc.cfg.EMADecay, step)
				if got := s.EMADecay(int64(step)); got != wantEMA {
					t.Errorf("EMADecay(%d) = %v, want %v", step, got, wantEMA)
				}
			}
			// And their meaning: 0 at the start, the peak after warmup,
			// above 0 on the last step, 0 at the end.
			if tc.warmup > 0 && s.LR(0) != 0 {
				t.Errorf("LR(0) = %v, want 0", s.LR(0))
			}
			if got := s.LR(int64(tc.warmup)); got != tc.peak {
				t.Errorf("LR(end of warmup %d) = %v, want the peak %v", tc.warmup, got, tc.peak)
			}
			if last := s.LR(int64(tc.total - 1)); !(last > 0 && last < tc.peak) && tc.total > 1 {
				t.Errorf("LR(last step) = %v, want in (0, %v)", last, tc.peak)
			}
			if got := s.LR(int64(tc.total)); got != 0 {
				t.Errorf("LR(total) = %v, want 0", got)
			}
		})
	}
}

func TestScheduleHugeStep(t *testing.T) {
	s, err := NewSchedule(ScheduleConfig{BaseLR: 0.1, Epochs: 1, StepsPerEpoch: 10, EMADecay: 0.999})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LR(math.MaxInt64); got != 0 {
		t.Errorf("LR(MaxInt64) = %v, want 0", got)
	}
	if got := s.EMADecay(math.MaxInt64); got != 0.999 {
		t.Errorf("EMADecay(MaxInt64) = %v, want 0.999", got)
	}
}

func TestScheduleRejects(t *testing.T) {
	ok := ScheduleConfig{BaseLR: 0.1, ScaleByBatch: true, BatchSize: 128, WarmupEpochs: 1, Epochs: 5, StepsPerEpoch: 100, EMADecay: 0.999}
	tests := []struct {
		name   string
		mutate func(*ScheduleConfig)
		want   string
	}{
		{"zero lr", func(c *ScheduleConfig) { c.BaseLR = 0 }, "base lr 0"},
		{"NaN lr", func(c *ScheduleConfig) { c.BaseLR = math.NaN() }, "base lr NaN"},
		{"infinite lr", func(c *ScheduleConfig) { c.BaseLR = math.Inf(1) }, "base lr +Inf"},
		{"scaling by no batch", func(c *ScheduleConfig) { c.BatchSize = 0 }, "batch size 0"},
		{"no epochs", func(c *ScheduleConfig) { c.Epochs = 0 }, "0 epochs"},
		{"no steps", func(c *ScheduleConfig) { c.StepsPerEpoch = 0 }, "of 0 steps"},
		{"too many steps", func(c *ScheduleConfig) { c.Epochs, c.StepsPerEpoch = 1<<20, 1<<20 }, "too many steps"},
		{"warmup as long as the run", func(c *ScheduleConfig) { c.WarmupEpochs = 5 }, "warmup of 5 epochs"},
		{"negative warmup", func(c *ScheduleConfig) { c.WarmupEpochs = -1 }, "warmup of -1"},
		{"ema decay above 1", func(c *ScheduleConfig) { c.EMADecay = 1.5 }, "ema decay 1.5"},
	}
	for _, tc := range tests {
		cfg := ok
		tc.mutate(&cfg)
		if _, err := NewSchedule(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewSchedule(ok); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}
