package agc

import (
	"fmt"
	"math"
)

// UnitRule chooses how a tensor splits into clipping units.
type UnitRule int

const (
	// DeepMind treats tensors with at most one non-unit dimension as one
	// unit (DeepMind's unitwise_norm squeezes first).
	DeepMind UnitRule = iota + 1
	// Timm treats tensors with ndim <= 1 as one unit (timm's
	// unitwise_norm), so (O,1,1,1) gains are clipped per element.
	Timm
)

func (r UnitRule) String() string {
	switch r {
	case DeepMind:
		return "deepmind"
	case Timm:
		return "timm"
	}
	return fmt.Sprintf("UnitRule(%d)", int(r))
}

// Default AGC constants of the spec.
const (
	// DefaultEps floors the parameter norm: max(||W_i||, eps).
	DefaultEps = 1e-3
	// GradNormFloor floors the gradient norm in the rescale factor.
	GradNormFloor = 1e-6
)

// maxElements bounds a single tensor so sizes cannot overflow.
const maxElements = 1 << 40

// Numel returns the element count of shape (1 for a 0-d scalar), or an
// error for a dimension below 1 or a count beyond 2^40.
func Numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 1 {
			return 0, fmt.Errorf("shape %v: dimension %d < 1", shape, d)
		}
		if n > maxElements/d {
			return 0, fmt.Errorf("shape %v: more than %d elements", shape, maxElements)
		}
		n *= d
	}
	return n, nil
}

// Units returns how many clipping units a tensor of the given shape has and
// how many consecutive elements each holds.
func Units(shape []int, rule UnitRule) (units, size int, err error) {
	n, err := Numel(shape)
	if err != nil {
		return 0, 0, fmt.Errorf("agc: %w", err)
	}
	switch rule {
	case DeepMind:
		nonUnit := 0
		for _, d := range shape {
			if d > 1 {
				nonUnit++
			}
		}
		if nonUnit <= 1 {
			return 1, n, nil
		}
	case Timm:
		if len(shape) <= 1 {
			return 1, n, nil
		}
	default:
		return 0, 0, fmt.Errorf("agc: unknown unit rule %d", int(rule))
	}
	return shape[0], n / shape[0], nil
}

// UnitNorms returns the L2 norm of every unit of x, accumulated in float64.
func UnitNorms(x []float32, shape []int, rule UnitRule) ([]float64, error) {
	units, size, err := Units(shape, rule)
	if err != nil {
		return nil, err
	}
	if len(x) != units*size {
		return nil, fmt.Errorf("agc: %d values for shape %v", len(x), shape)
	}
	norms := make([]float64, units)
	for u := range norms {
		norms[u] = norm(x[u*size : (u+1)*size])
	}
	return norms, nil
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Clipper holds AGC's settings.
type Clipper struct {
	// Lambda is the clipping factor: a unit's gradient norm may reach
	// Lambda times its parameter norm.
	Lambda float64
	// Eps floors the parameter norm (DefaultEps when 0).
	Eps float64
	// Rule splits tensors into units.
	Rule UnitRule
}

func (c Clipper) eps() float64 {
	if c.Eps == 0 {
		return DefaultEps
	}
	return c.Eps
}

func (c Clipper) check() error {
	if math.IsNaN(c.Lambda) || math.IsInf(c.Lambda, 0) || c.Lambda <= 0 {
		return fmt.Errorf("agc: clipping factor %v: must be a finite number > 0", c.Lambda)
	}
	if e := c.eps(); math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
		return fmt.Errorf("agc: eps %v: must be a finite number > 0", c.Eps)
	}
	if c.Rule != DeepMind && c.Rule != Timm {
		return fmt.Errorf("agc: unknown unit rule %d", int(c.Rule))
	}
	return nil
}

// Clip clips grad in place, unit by unit, against param (the raw weights):
// with pn = max(||W_i||, Eps) and gmax = Lambda*pn, a unit whose gradient
// norm exceeds gmax is scaled by gmax / max(||G_i||, 1e-6). It returns how
// many units it scaled.
func (c Clipper) Clip(param, grad []float32, shape []int) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	units, size, err := Units(shape, c.Rule)
	if err != nil {
		return 0, err
	}
	if len(param) != units*size || len(grad) != units*size {
		return 0, fmt.Errorf("agc: shape %v needs %d values, got %d parameters and %d gradients",
			shape, units*size, len(param), len(grad))
	}
	return c.clip(param, grad, units, size), nil
}

// clip is Clip without the checks.
func (c Clipper) clip(param, grad []float32, units, size int) int {
	eps := c.eps()
	clipped := 0
	for u := 0; u < units; u++ {
		p := param[u*size : (u+1)*size]
		g := grad[u*size : (u+1)*size]
		maxNorm := c.Lambda * math.Max(norm(p), eps)
		gn := norm(g)
		if gn > maxNorm {
			scale := maxNorm / math.Max(gn, GradNormFloor)
			for i := range g {
				g[i] = float32(float64(g[i]) * scale)
			}
			clipped++
		}
	}
	return clipped
}
