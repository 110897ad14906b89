package agc

import (
	"fmt"
	"math"
)

// Param is one parameter tensor with its gradient and momentum buffer.
type Param struct {
	// Name identifies the tensor; SGD.Exclude matches it.
	Name string
	// Shape is the tensor's shape (nfvk layout, output dimension first).
	Shape []int
	// Value is updated in place.
	Value []float32
	// Grad is read, then replaced by the clipped gradient (before weight
	// decay), so callers can inspect what AGC produced.
	Grad []float32
	// Momentum is the momentum buffer, updated in place; it may be nil
	// when SGD.Momentum is 0.
	Momentum []float32
	// WeightDecay says whether weight decay applies (weights yes; gains,
	// biases and skip gains no).
	WeightDecay bool
}

// SGD is DeepMind's SGD with AGC. Per parameter, in this order:
//
//	g = AGC(g)                (unless Clip is nil or the name is excluded)
//	g += WeightDecay * p      (only where Param.WeightDecay)
//	buf = Momentum*buf + g
//	g += Momentum*buf         (Nesterov; otherwise g = buf)
//	p -= LR * g
type SGD struct {
	LR          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	// Clip enables AGC; nil disables it.
	Clip *Clipper
	// Exclude names parameters AGC leaves alone (timm: head.fc.weight and
	// head.fc.bias).
	Exclude []string
}

// StepStats reports what one step clipped.
type StepStats struct {
	// ClippedTensors counts tensors with at least one clipped unit.
	ClippedTensors int
	// ClippedUnits counts clipped units over all tensors.
	ClippedUnits int
}

func badFloat(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

func (s SGD) check() error {
	if badFloat(s.LR) || s.LR < 0 {
		return fmt.Errorf("agc: sgd: learning rate %v: must be a finite number >= 0", s.LR)
	}
	if badFloat(s.Momentum) || s.Momentum < 0 || s.Momentum >= 1 {
		return fmt.Errorf("agc: sgd: momentum %v: must lie in [0, 1)", s.Momentum)
	}
	if badFloat(s.WeightDecay) || s.WeightDecay < 0 {
		return fmt.Errorf("agc: sgd: weight decay %v: must be a finite number >= 0", s.WeightDecay)
	}
	if s.Clip != nil {
		if err := s.Clip.check(); err != nil {
			return fmt.Errorf("agc: sgd: %w", err)
		}
	}
	return nil
}

// Step applies one update to every parameter. It checks everything first
// and changes nothing when it returns an error.
func (s SGD) Step(params []Param) (StepStats, error) {
	if err := s.check(); err != nil {
		return StepStats{}, err
	}
	rule := Timm
	if s.Clip != nil {
		rule = s.Clip.Rule
	}
	type geometry struct{ units, size int }
	geo := make([]geometry, len(params))
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if seen[p.Name] {
			return StepStats{}, fmt.Errorf("agc: sgd: parameter %q given twice", p.Name)
		}
		seen[p.Name] = true
		units, size, err := Units(p.Shape, rule)
		if err != nil {
			return StepStats{}, fmt.Errorf("agc: sgd: parameter %q: %w", p.Name, err)
		}
		n := units * size
		if len(p.Value) != n || len(p.Grad) != n {
			return StepStats{}, fmt.Errorf("agc: sgd: parameter %q: shape %v needs %d values, got %d values and %d gradients",
				p.Name, p.Shape, n, len(p.Value), len(p.Grad))
		}
		if len(p.Momentum) != n && (s.Momentum != 0 || p.Momentum != nil) {
			return StepStats{}, fmt.Errorf("agc: sgd: parameter %q: momentum buffer has %d values, want %d",
				p.Name, len(p.Momentum), n)
		}
		geo[i] = geometry{units, size}
	}
	excluded := make(map[string]bool, len(s.Exclude))
	for _, name := range s.Exclude {
		excluded[name] = true
	}

	var stats StepStats
	for i, p := range params {
		if s.Clip != nil && !excluded[p.Name] {
			if c := s.Clip.clip(p.Value, p.Grad, geo[i].units, geo[i].size); c > 0 {
				stats.ClippedTensors++
				stats.ClippedUnits += c
			}
		}
		wd := 0.0
		if p.WeightDecay {
			wd = s.WeightDecay
		}
		for j := range p.Value {
			w := float64(p.Value[j])
			g := float64(p.Grad[j]) + wd*w
			if s.Momentum != 0 {
				buf := float32(s.Momentum*float64(p.Momentum[j]) + g)
				p.Momentum[j] = buf
				if s.Nesterov {
					g += s.Momentum * float64(buf)
				} else {
					g = float64(buf)
				}
			}
			p.Value[j] = float32(w - s.LR*g)
		}
	}
	return stats, nil
}
