package train

import (
	"fmt"
	"math"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Dynamic loss scaling of fp16 runs (graph.LossScale): the recipe's
// settings, the state a checkpoint keeps and the epoch's metrics.

// Defaults of dynamic loss scaling, those of torch.cuda.amp.GradScaler.
const (
	DefaultLossScale       = 65536
	DefaultLossScaleGrowth = 2000
)

// LossScaleState is dynamic loss scaling's state between two steps.
type LossScaleState struct {
	// Scale is the loss scale S the next step uses.
	Scale float32 `json:"scale"`
	// GoodSteps counts the consecutive steps without overflow since S
	// last changed; SkippedSteps the steps skipped for an overflow.
	GoodSteps    uint32 `json:"good_steps"`
	SkippedSteps uint32 `json:"skipped_steps"`
}

func (s LossScaleState) validate() error {
	if !powerOfTwo(float64(s.Scale)) {
		return fmt.Errorf("loss scale %v is not a positive finite power of two", s.Scale)
	}
	return nil
}

// powerOfTwo reports whether v is 2^k for a k float32 represents
// normally: scaling by it and by 1/v is exact.
func powerOfTwo(v float64) bool {
	frac, exp := math.Frexp(v)
	return frac == 0.5 && exp-1 >= -126 && exp-1 <= 127
}

// decodeLossScale reads a checkpoint's loss scale state (nil when absent:
// an fp32 run).
func decodeLossScale(meta map[string]string) (*LossScaleState, error) {
	if _, ok := meta[metaLossScale]; !ok {
		return nil, nil
	}
	st := &LossScaleState{}
	if err := strictJSON(meta, metaLossScale, st); err != nil {
		return nil, err
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("metadata %q: %w", metaLossScale, err)
	}
	return st, nil
}

// lossScale returns the initial scale and growth interval of the run
// (0, 0 unless fp16).
func (r Recipe) lossScale() (float64, int) {
	if p, err := graph.ParsePrecision(r.Precision); err != nil || p != graph.FP16 {
		return 0, 0
	}
	s, g := r.LossScale, r.LossScaleGrowth
	if s == 0 {
		s = DefaultLossScale
	}
	if g == 0 {
		g = DefaultLossScaleGrowth
	}
	return s, g
}

func (r Recipe) validateLossScale() []error {
	var errs []error
	if r.LossScale != 0 && !powerOfTwo(r.LossScale) {
		errs = append(errs, fmt.Errorf("recipe: loss_scale: %v, want a power of two (0: %d)", r.LossScale, DefaultLossScale))
	}
	if r.LossScaleGrowth < 0 {
		errs = append(errs, fmt.Errorf("recipe: loss_scale_growth: %d, want >= 1 (0: %d)", r.LossScaleGrowth, DefaultLossScaleGrowth))
	}
	return errs
}

// setLossScale writes st (nil: the initial scale, counters 0) into a
// step with loss scaling; a step without (fp32) has nothing to set and
// ignores st.
func (s *Session) setLossScale(st *LossScaleState) error {
	ls := s.tg.LossScale
	if ls == nil {
		return nil
	}
	if st == nil {
		init := s.o.LossScale
		if init == 0 {
			init = DefaultLossScale
		}
		st = &LossScaleState{Scale: float32(init)}
	}
	if err := st.validate(); err != nil {
		return fmt.Errorf("train: session: set state: %w", err)
	}
	c := make([]float32, ref.LossScaleCounters)
	c[ref.LossScaleGood] = math.Float32frombits(st.GoodSteps)
	c[ref.LossScaleSkipped] = math.Float32frombits(st.SkippedSteps)
	if err := s.train.Write(ls.Scale, []float32{st.Scale}); err != nil {
		return fmt.Errorf("train: session: set loss scale: %w", err)
	}
	if err := s.train.Write(ls.Counters, c); err != nil {
		return fmt.Errorf("train: session: set loss scale counters: %w", err)
	}
	return nil
}

// readLossScale reads the state of a step with loss scaling (nil
// without).
func (s *Session) readLossScale() (*LossScaleState, error) {
	ls := s.tg.LossScale
	if ls == nil {
		return nil, nil
	}
	if err := s.idle("read the loss scale"); err != nil {
		return nil, err
	}
	sc, c := make([]float32, 1), make([]float32, ref.LossScaleCounters)
	if err := s.train.ReadInto(ls.Scale, sc); err != nil {
		return nil, fmt.Errorf("train: session: read loss scale: %w", err)
	}
	if err := s.train.ReadInto(ls.Counters, c); err != nil {
		return nil, fmt.Errorf("train: session: read loss scale counters: %w", err)
	}
	return &LossScaleState{Scale: sc[0], GoodSteps: math.Float32bits(c[ref.LossScaleGood]),
		SkippedSteps: math.Float32bits(c[ref.LossScaleSkipped])}, nil
}

// LossScale reads the training step's loss scaling state (nil for a step
// without: fp32).
func (s *Session) LossScale() (*LossScaleState, error) {
	if err := s.needTrain("read the loss scale", true); err != nil {
		return nil, err
	}
	return s.readLossScale()
}

// measureLossScale adds the loss scale and skipped steps to an fp16
// run's epoch metrics.
func (l *loop) measureLossScale(m *EpochMetrics) error {
	st, err := l.sess.LossScale()
	if err != nil || st == nil {
		return err
	}
	m.LossScale, m.SkippedSteps = float64(st.Scale), int64(st.SkippedSteps)
	return nil
}
