package agc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HyperBytes is the size of the encoded per-step values (Hyper.Encode),
// the layout the GPU optimizer reads (shaders/include/optim_hyper.glsl),
// std430, little-endian:
//
//	offset  type     field
//	 0      float32  lr
//	 4      float32  momentum (0: no momentum buffer update)
//	 8      float32  weight decay (tensors with weight decay only)
//	12      float32  AGC lambda (0: AGC off for every tensor)
//	16      float32  AGC eps, the floor of the parameter norm
//	20      float32  1 - EMA decay, computed in float64
//	24      uint32   nesterov (1 or 0)
//	28      uint32   step (for inspection; no kernel reads it)
const HyperBytes = 32

// HyperWords is HyperBytes in 4-byte words: the length of the per-step
// input tensor of a training graph.
const HyperWords = HyperBytes / 4

// Hyper is one step's optimizer values: what a Schedule gives for a step
// and what the optimizer of a recorded training step reads, so a new
// learning rate never re-records the step.
type Hyper struct {
	LR          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	// Lambda is AGC's clip factor; 0 turns AGC off for every tensor
	// without re-recording (the kernels then skip the norms).
	Lambda float64
	// Eps floors the parameter norm; 0 means DefaultEps, as in Clipper.
	Eps float64
	// EMADecay is the weight-EMA decay of this step (after the warm-up
	// of EMADecay(d, t)). It is stored as 1-d, computed in float64: for
	// d = 0.99999, 1-d taken in float32 would be off by about 0.1%.
	EMADecay float64
	// Step is stored for inspection; no kernel reads it.
	Step int64
}

// Hyper returns the per-step values of the CPU reference's settings, with
// no EMA decay and step 0.
func (s SGD) Hyper() Hyper {
	h := Hyper{LR: s.LR, Momentum: s.Momentum, Nesterov: s.Nesterov, WeightDecay: s.WeightDecay}
	if s.Clip != nil {
		h.Lambda, h.Eps = s.Clip.Lambda, s.Clip.Eps
	}
	return h
}

// SGD returns the CPU reference optimizer of these values, clipping with
// rule (AGC off when Lambda is 0).
func (h Hyper) SGD(rule UnitRule) SGD {
	s := SGD{LR: h.LR, Momentum: h.Momentum, Nesterov: h.Nesterov, WeightDecay: h.WeightDecay}
	if h.Lambda > 0 {
		s.Clip = &Clipper{Lambda: h.Lambda, Eps: h.eps(), Rule: rule}
	}
	return s
}

func (h Hyper) eps() float64 {
	if h.Eps == 0 {
		return DefaultEps
	}
	return h.Eps
}

// Encode validates h and returns its HyperBytes bytes.
func (h Hyper) Encode() ([]byte, error) {
	eps := h.eps()
	// Ranges as in SGD and Clipper; upper bounds keep every value finite
	// in float32.
	for _, f := range []struct {
		name   string
		v      float64
		ok     bool
		domain string
	}{
		{"learning rate", h.LR, h.LR >= 0 && h.LR <= math.MaxFloat32, "[0, MaxFloat32]"},
		{"momentum", h.Momentum, h.Momentum >= 0 && h.Momentum < 1, "[0, 1)"},
		{"weight decay", h.WeightDecay, h.WeightDecay >= 0 && h.WeightDecay <= math.MaxFloat32, "[0, MaxFloat32]"},
		{"AGC lambda", h.Lambda, h.Lambda >= 0 && h.Lambda <= math.MaxFloat32, "[0, MaxFloat32]"},
		{"AGC eps", eps, eps >= math.SmallestNonzeroFloat32 && eps <= math.MaxFloat32, "(0, MaxFloat32]"},
		{"EMA decay", h.EMADecay, h.EMADecay >= 0 && h.EMADecay <= 1, "[0, 1]"},
	} {
		if !f.ok { // NaN fails every comparison, so it lands here too
			return nil, fmt.Errorf("hyper: %s %v outside %s", f.name, f.v, f.domain)
		}
	}
	if h.Step < 0 || h.Step > math.MaxUint32 {
		return nil, fmt.Errorf("hyper: step %d outside [0, 2^32)", h.Step)
	}
	nesterov := uint32(0)
	if h.Nesterov {
		nesterov = 1
	}
	words := [HyperWords]uint32{
		math.Float32bits(float32(h.LR)), math.Float32bits(float32(h.Momentum)), math.Float32bits(float32(h.WeightDecay)),
		math.Float32bits(float32(h.Lambda)), math.Float32bits(float32(eps)), math.Float32bits(float32(1 - h.EMADecay)),
		nesterov, uint32(h.Step),
	}
	b := make([]byte, HyperBytes)
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b, nil
}

// Values returns the encoding as the HyperWords float32 values of a
// graph's per-step input tensor (the uint32 fields keep their bits).
func (h Hyper) Values() ([]float32, error) {
	b, err := h.Encode()
	if err != nil {
		return nil, err
	}
	v := make([]float32, HyperWords)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// DecodeHyper reads what Values wrote. EMADecay comes back as 1 minus the
// stored float32 1-d, and the float fields as their float32 roundings:
// what the GPU computes with.
func DecodeHyper(v []float32) (Hyper, error) {
	if len(v) != HyperWords {
		return Hyper{}, fmt.Errorf("hyper: %d values, want %d", len(v), HyperWords)
	}
	return Hyper{
		LR: float64(v[0]), Momentum: float64(v[1]), WeightDecay: float64(v[2]), Lambda: float64(v[3]), Eps: float64(v[4]),
		EMADecay: 1 - float64(v[5]), Nesterov: math.Float32bits(v[6]) != 0, Step: int64(math.Float32bits(v[7])),
	}, nil
}
