package graph

import (
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// Convolution and scaled weight standardization, forward and backward.

// ConvOpts configure Conv2D.
type ConvOpts struct {
	Stride int // default 1
	Groups int // default 1
	// Same selects TF "SAME" padding (NFNet's); otherwise Pad applies.
	Same bool
	// Pad is explicit zero padding: top, bottom, left, right.
	Pad [4]int
}

// Conv2D adds y = conv(x, w) + bias: x NCHW, w OIHW ([O, C/Groups, KH,
// KW]), bias [O] or nil.
func (g *Graph) Conv2D(x, w, bias *Tensor, o ConvOpts) (*Tensor, error) {
	return g.add1(&conv2d{opts: o}, x, w, bias)
}

type conv2d struct {
	opts ConvOpts
	s    ref.Conv2DShape
}

func (*conv2d) name() string { return "conv2d" }

func (c *conv2d) infer(ins []*Tensor) ([]Shape, error) {
	x, w, b := ins[0], ins[1], ins[2]
	if err := needRank("x", x, 4); err != nil {
		return nil, err
	}
	if err := needRank("w", w, 4); err != nil {
		return nil, err
	}
	stride, groups := max(c.opts.Stride, 1), max(c.opts.Groups, 1)
	n, ch, h, wd := nchw(x)
	o, cg, kh, kw := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if ch%groups != 0 || cg != ch/groups {
		return nil, fmt.Errorf("w has %d input channels per group, x has %d channels in %d groups", cg, ch, groups)
	}
	s := ref.Conv2DShape{N: n, C: ch, H: h, W: wd, O: o, KH: kh, KW: kw, StrideH: stride, StrideW: stride, Groups: groups,
		PadTop: c.opts.Pad[0], PadBottom: c.opts.Pad[1], PadLeft: c.opts.Pad[2], PadRight: c.opts.Pad[3]}
	if c.opts.Same {
		s.PadTop, s.PadBottom = ref.SamePadding(h, kh, stride)
		s.PadLeft, s.PadRight = ref.SamePadding(wd, kw, stride)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if b != nil {
		if err := needRank("bias", b, 1); err != nil {
			return nil, err
		}
		if b.shape[0] != o {
			return nil, fmt.Errorf("bias %v, want [%d]", b.shape, o)
		}
	}
	c.s = s
	return []Shape{{n, o, s.OutH(), s.OutW()}}, nil
}

func (c *conv2d) cpu32(_ *cpuStep, in, out [][]float32) { ref.Conv2D(c.s, in[0], in[1], in[2], out[0]) }
func (c *conv2d) cpu64(_ *cpuStep, in, out [][]float64) { ref.Conv2D(c.s, in[0], in[1], in[2], out[0]) }

func (c *conv2d) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	dy := d[0]
	res := make([]*Tensor, 3)
	var err error
	if need[0] {
		w := n.ins[1]
		if wn := w.node; wn != nil && !g.keepWS {
			if o, ok := wn.op.(*ws); ok {
				// Recompute the standardized weights here rather than
				// keep the forward's copy alive through the whole step:
				// one cheap pass over the weights saves a tensor as large
				// as the parameters from the memory peak.
				if w, err = g.add1(&ws{opts: o.opts}, wn.ins[0], wn.ins[1]); err != nil {
					return nil, err
				}
			}
		}
		if res[0], err = g.add1(&convData{s: c.s}, dy, w); err != nil {
			return nil, err
		}
	}
	if need[1] {
		if res[1], err = g.add1(&convFilter{s: c.s}, n.ins[0], dy); err != nil {
			return nil, err
		}
	}
	if need[2] && n.ins[2] != nil {
		if res[2], err = g.add1(&convBias{s: c.s}, dy); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (c *conv2d) halfSlots() (ins, outs []bool) { return []bool{true, true, false}, []bool{true} }
func (c *conv2d) lower(l *lowering, n *Node) error {
	var bias Mem
	if n.ins[2] != nil {
		bias = l.mem(n.ins[2])
	}
	return l.b.Conv2D(c.s, l.mem(n.ins[0]), l.mem(n.ins[1]), bias, l.mem(n.outs[0]))
}

// firstOrder is embedded by backward ops: nfvk needs no second derivatives.
type firstOrder struct{}

func (firstOrder) grad(*Graph, *Node, []*Tensor, []bool) ([]*Tensor, error) {
	return nil, errors.New("no second-order gradient")
}

// convData is dx = conv2d backward-data(dy, w).
type convData struct {
	firstOrder
	s ref.Conv2DShape
}

func (*convData) name() string { return "conv2d backward data" }
func (c *convData) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{{c.s.N, c.s.C, c.s.H, c.s.W}}, nil
}
func (c *convData) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.Conv2DBackwardData(c.s, in[0], in[1], out[0])
}
func (c *convData) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.Conv2DBackwardData(c.s, in[0], in[1], out[0])
}
func (c *convData) halfSlots() (ins, outs []bool) { return []bool{true, true}, []bool{true} }
func (c *convData) lower(l *lowering, n *Node) error {
	return l.b.Conv2DBackwardData(c.s, l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0]))
}

// convFilter is dw = conv2d backward-filter(x, dy).
type convFilter struct {
	firstOrder
	s ref.Conv2DShape
}

func (*convFilter) name() string { return "conv2d backward filter" }
func (c *convFilter) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{{c.s.O, c.s.C / c.s.Groups, c.s.KH, c.s.KW}}, nil
}
func (c *convFilter) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.Conv2DBackwardFilter(c.s, in[0], in[1], out[0])
}
func (c *convFilter) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.Conv2DBackwardFilter(c.s, in[0], in[1], out[0])
}
func (c *convFilter) scratch(b Backend, _ *Node) int64 { return 4 * int64(b.ConvFilterScratch(c.s)) }
func (c *convFilter) halfSlots() (ins, outs []bool)    { return []bool{true, true}, []bool{false} }
func (c *convFilter) lower(l *lowering, n *Node) error {
	return l.b.Conv2DBackwardFilter(c.s, l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0]), l.scratch(n))
}

// convBias is dbias = sum of dy over N, H, W.
type convBias struct {
	firstOrder
	s ref.Conv2DShape
}

func (*convBias) name() string                            { return "conv2d backward bias" }
func (c *convBias) infer(ins []*Tensor) ([]Shape, error)  { return []Shape{{c.s.O}}, nil }
func (c *convBias) cpu32(_ *cpuStep, in, out [][]float32) { ref.Conv2DBackwardBias(c.s, in[0], out[0]) }
func (c *convBias) cpu64(_ *cpuStep, in, out [][]float64) { ref.Conv2DBackwardBias(c.s, in[0], out[0]) }
func (c *convBias) halfSlots() (ins, outs []bool)         { return []bool{true}, []bool{false} }
func (c *convBias) lower(l *lowering, n *Node) error {
	return l.b.Conv2DBackwardBias(c.s, l.mem(n.ins[0]), l.mem(n.outs[0]))
}

// WSFormula selects the scaled weight standardization formula.
type WSFormula uint8

const (
	// WSDeepMind is (W-mu) * gain * rsqrt(max(n*var, 1e-4)).
	WSDeepMind WSFormula = iota
	// WSTimm is (W-mu)/sqrt(var+Eps) * gain * Gamma/sqrt(n).
	WSTimm
)

// WSOpts configure WS. Eps and Gamma apply to WSTimm only (Eps 0 means
// ref.TimmWSEps, Gamma 0 means 1).
type WSOpts struct {
	Formula    WSFormula
	Eps, Gamma float64
}

// TimmParams are WSTimm's gamma and eps with the defaults applied.
func (o WSOpts) TimmParams() (gamma, eps float64) {
	gamma, eps = o.Gamma, o.Eps
	if gamma == 0 {
		gamma = 1
	}
	if eps == 0 {
		eps = ref.TimmWSEps
	}
	return gamma, eps
}

// WS adds the standardized weights of w (OIHW or [O, In]) with one gain
// per output channel (gain shaped [O] or [O,1,1,1]).
func (g *Graph) WS(w, gain *Tensor, o WSOpts) (*Tensor, error) {
	return g.add1(&ws{opts: o}, w, gain)
}

type ws struct {
	opts WSOpts
	s    ref.WSShape
}

func (*ws) name() string { return "ws" }

func (o *ws) infer(ins []*Tensor) ([]Shape, error) {
	w, gain := ins[0], ins[1]
	if w == nil || gain == nil || len(w.shape) < 2 {
		return nil, errors.New("want weights of rank >= 2 and a gain")
	}
	if gain.Size() != w.shape[0] || gain.shape[0] != w.shape[0] {
		return nil, fmt.Errorf("gain %v must hold one value per output channel (%d)", gain.shape, w.shape[0])
	}
	if o.opts.Formula > WSTimm {
		return nil, fmt.Errorf("unknown formula %d", o.opts.Formula)
	}
	o.s = ref.WSShape{O: w.shape[0], FanIn: w.Size() / w.shape[0]}
	return []Shape{w.shape}, nil
}

func wsCPU[T ref.Float](o *ws, in, out [][]T) {
	if o.opts.Formula == WSTimm {
		gamma, eps := o.opts.TimmParams()
		ref.WSTimm(o.s, in[0], in[1], gamma, eps, out[0])
		return
	}
	ref.WSDeepMind(o.s, in[0], in[1], out[0])
}

func (o *ws) cpu32(_ *cpuStep, in, out [][]float32) { wsCPU(o, in, out) }
func (o *ws) cpu64(_ *cpuStep, in, out [][]float64) { wsCPU(o, in, out) }

func (o *ws) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	b, err := g.add(&wsBackward{opts: o.opts, s: o.s}, n.ins[0], n.ins[1], d[0])
	if err != nil {
		return nil, err
	}
	return []*Tensor{b.outs[0], b.outs[1]}, nil
}

func (o *ws) halfSlots() (ins, outs []bool) { return []bool{false, false}, []bool{true} }
func (o *ws) lower(l *lowering, n *Node) error {
	return l.b.WS(o.s, o.opts, l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0]))
}

// wsBackward computes (dw, dgain) from (w, gain, dwhat) in one pass.
type wsBackward struct {
	firstOrder
	opts WSOpts
	s    ref.WSShape
}

func (*wsBackward) name() string { return "ws backward" }
func (o *wsBackward) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape, ins[1].shape}, nil
}

func wsBackwardCPU[T ref.Float](o *wsBackward, in, out [][]T) {
	if o.opts.Formula == WSTimm {
		gamma, eps := o.opts.TimmParams()
		ref.WSTimmBackward(o.s, in[0], in[1], gamma, eps, in[2], out[0], out[1])
		return
	}
	ref.WSDeepMindBackward(o.s, in[0], in[1], in[2], out[0], out[1])
}

func (o *wsBackward) cpu32(_ *cpuStep, in, out [][]float32) { wsBackwardCPU(o, in, out) }
func (o *wsBackward) cpu64(_ *cpuStep, in, out [][]float64) { wsBackwardCPU(o, in, out) }
func (o *wsBackward) lower(l *lowering, n *Node) error {
	return l.b.WSBackward(o.s, o.opts, l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.ins[2]),
		l.mem(n.outs[0]), l.mem(n.outs[1]))
}
