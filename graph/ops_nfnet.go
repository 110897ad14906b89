package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// NFNet block parts: the squeeze-excite gate, the skip-init residual,
// stochastic depth and dropout.

// SEGate adds y = gain * sigmoid(z[n, c]) * h[n, c, h, w] for h NCHW and
// excite logits z [N, C] (NFNets use gain ref.SEGain = 2).
func (g *Graph) SEGate(h, z *Tensor, gain float64) (*Tensor, error) {
	return g.add1(&seGate{gain: gain}, h, z)
}

type seGate struct {
	gain float64
	s    ref.NCHWShape
}

func (*seGate) name() string { return "se gate" }
func (o *seGate) infer(ins []*Tensor) ([]Shape, error) {
	h, z := ins[0], ins[1]
	if err := needRank("h", h, 4); err != nil {
		return nil, err
	}
	if err := needRank("z", z, 2); err != nil {
		return nil, err
	}
	n, c, hh, w := nchw(h)
	if z.shape[0] != n || z.shape[1] != c {
		return nil, fmt.Errorf("z %v, want [%d %d]", z.shape, n, c)
	}
	o.s = ref.NCHWShape{N: n, C: c, H: hh, W: w}
	return []Shape{h.shape}, nil
}
func (o *seGate) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.SEGate(o.s, o.gain, in[1], in[0], out[0])
}
func (o *seGate) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.SEGate(o.s, o.gain, in[1], in[0], out[0])
}
func (o *seGate) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	b, err := g.add(&seGateBackward{gain: o.gain, s: o.s}, n.ins[0], n.ins[1], d[0])
	if err != nil {
		return nil, err
	}
	return []*Tensor{b.outs[0], b.outs[1]}, nil
}
func (*seGate) halfSlots() (ins, outs []bool) { return []bool{true, false}, []bool{true} }
func (o *seGate) lower(l *lowering, n *Node) error {
	return l.b.SEGate(o.s, float32(o.gain), l.mem(n.ins[1]), l.mem(n.ins[0]), l.mem(n.outs[0]))
}

// seGateBackward computes (dh, dz) from (h, z, dy).
type seGateBackward struct {
	firstOrder
	gain float64
	s    ref.NCHWShape
}

func (*seGateBackward) name() string { return "se gate backward" }
func (o *seGateBackward) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape, ins[1].shape}, nil
}
func (o *seGateBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.SEGateBackward(o.s, o.gain, in[1], in[0], in[2], out[1], out[0])
}
func (o *seGateBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.SEGateBackward(o.s, o.gain, in[1], in[0], in[2], out[1], out[0])
}
func (*seGateBackward) halfSlots() (ins, outs []bool) {
	return []bool{true, false, true}, []bool{true, false}
}
func (o *seGateBackward) lower(l *lowering, n *Node) error {
	h, z, dy := l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.ins[2])
	if err := l.b.SEGateDZ(o.s, float32(o.gain), z, h, dy, l.mem(n.outs[1])); err != nil {
		return err
	}
	return l.b.SEGateBackward(o.s, float32(o.gain), z, dy, Mem{}, l.mem(n.outs[0]))
}

// Residual adds out = shortcut + alpha * skipGain * h, the end of an NFNet
// block (alpha ref.ResidualAlpha = 0.2, skipGain a [1] parameter). When h
// comes straight from DropPath the residual applies the drop-path mask
// itself (one pass over memory instead of two; the DropPath node is then
// dead and pruned from GPU steps), and likewise a Scale of the branch.
func (g *Graph) Residual(shortcut, h, skipGain *Tensor, alpha float64) (*Tensor, error) {
	var mask *Tensor
	if h != nil && h.g == g && h.node != nil {
		if _, ok := h.node.op.(*dropPathApply); ok {
			h, mask = h.node.ins[0], h.node.ins[1]
		}
	}
	// A scaled branch (timm's drop path divides by keep) folds into
	// alpha: alpha*skip*mask*(c*h) = (alpha*c)*skip*mask*h, one pass less.
	if h != nil && h.g == g && h.node != nil {
		if s, ok := h.node.op.(*scale); ok {
			h, alpha = h.node.ins[0], alpha*s.c
		}
	}
	return g.add1(&residual{alpha: alpha}, shortcut, h, skipGain, mask)
}

type residual struct {
	alpha float64
	s     ref.NCHWShape
}

func (*residual) name() string { return "residual" }
func (o *residual) infer(ins []*Tensor) ([]Shape, error) {
	if err := needRank("h", ins[1], 4); err != nil {
		return nil, err
	}
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	if sg := ins[2]; sg == nil || sg.Size() != 1 || sg.dtype != Float32 {
		return nil, fmt.Errorf("skip gain must be one f32 value")
	}
	n, c, h, w := nchw(ins[1])
	if m := ins[3]; m != nil && (m.Size() != n || m.dtype != Float32) {
		return nil, fmt.Errorf("mask %v must hold one value per sample (%d)", m.shape, n)
	}
	o.s = ref.NCHWShape{N: n, C: c, H: h, W: w}
	return []Shape{ins[0].shape}, nil
}
func (o *residual) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.Residual(o.s, o.alpha, float64(in[2][0]), in[0], in[1], in[3], out[0])
}
func (o *residual) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.Residual(o.s, o.alpha, in[2][0], in[0], in[1], in[3], out[0])
}
func (o *residual) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	res := []*Tensor{d[0], nil, nil, nil} // dshortcut = dout: no node needed
	if need[1] || need[2] {
		b, err := g.add(&residualBackward{alpha: o.alpha, s: o.s}, n.ins[1], n.ins[2], n.ins[3], d[0])
		if err != nil {
			return nil, err
		}
		res[1], res[2] = b.outs[0], b.outs[1]
	}
	return res, nil
}
func (*residual) halfSlots() (ins, outs []bool) {
	return []bool{true, true, false, false}, []bool{true}
}
func (o *residual) lower(l *lowering, n *Node) error {
	return l.b.Residual(o.s, float32(o.alpha), l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.ins[2]),
		l.optMem(n.ins[3]), l.mem(n.outs[0]))
}

// residualBackward computes (dh, dskipGain) from (h, skipGain, mask, dout).
type residualBackward struct {
	firstOrder
	alpha float64
	s     ref.NCHWShape
}

func (*residualBackward) name() string { return "residual backward" }
func (o *residualBackward) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape, ins[1].shape}, nil
}
func (o *residualBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	out[1][0] = float32(ref.ResidualBackward(o.s, o.alpha, float64(in[1][0]), in[0], in[2], in[3], nil, out[0]))
}
func (o *residualBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	out[1][0] = ref.ResidualBackward(o.s, o.alpha, in[1][0], in[0], in[2], in[3], nil, out[0])
}
func (o *residualBackward) scratch(b Backend, _ *Node) int64 {
	return 4 * int64(b.ResidualScratch(o.s))
}
func (*residualBackward) halfSlots() (ins, outs []bool) {
	return []bool{true, false, false, true}, []bool{true, false}
}
func (o *residualBackward) lower(l *lowering, n *Node) error {
	return l.b.ResidualBackward(o.s, float32(o.alpha), l.mem(n.ins[0]), l.mem(n.ins[1]), l.optMem(n.ins[2]),
		l.mem(n.ins[3]), Mem{}, l.mem(n.outs[0]), l.mem(n.outs[1]), l.scratch(n))
}

// DropPath adds stochastic depth: y[n, ...] = h[n, ...] * floor(keep + u_n)
// with keep = 1 - rate and u_n uniform per sample and step (no 1/keep
// rescale, as DeepMind's NFNets). The step's seed picks the masks. It is
// two nodes: the per-sample mask, and its application, which Residual
// fuses into itself.
func (g *Graph) DropPath(h *Tensor, rate float64) (*Tensor, error) {
	if err := needRank("h", h, 4); err != nil {
		return nil, fmt.Errorf("graph: drop path(%v): %w", h, err)
	}
	g.streams++
	mask, err := g.add1(&dropPathMask{keep: 1 - rate, stream: g.streams, n: h.shape[0]})
	if err != nil {
		return nil, err
	}
	return g.add1(&dropPathApply{}, h, mask)
}

// dropPathMask draws the per-sample keep mask (1 or 0) of one step.
type dropPathMask struct {
	keep   float64
	stream uint64
	n      int
}

func (*dropPathMask) name() string { return "drop path mask" }
func (o *dropPathMask) infer([]*Tensor) ([]Shape, error) {
	if !(o.keep > 0 && o.keep <= 1) {
		return nil, fmt.Errorf("drop rate %v must be in [0, 1)", 1-o.keep)
	}
	return []Shape{{o.n}}, nil
}
func (o *dropPathMask) cpu32(s *cpuStep, _, out [][]float32) {
	ref.DropPathMask(s.seed, o.stream, o.keep, out[0])
}
func (o *dropPathMask) cpu64(s *cpuStep, _, out [][]float64) {
	ref.DropPathMask(s.seed, o.stream, o.keep, out[0])
}
func (o *dropPathMask) grad(*Graph, *Node, []*Tensor, []bool) ([]*Tensor, error) { return nil, nil }
func (o *dropPathMask) lower(l *lowering, n *Node) error {
	return l.b.DropPathMask(l.seed(), o.stream, o.keep, l.mem(n.outs[0]))
}

// dropPathApply is y[n, ...] = h[n, ...] * mask[n].
type dropPathApply struct{}

func (dropPathApply) name() string { return "drop path" }
func (dropPathApply) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape}, nil
}

func dropPathCPU[T ref.Float](x, mask, y []T) {
	per := len(x) / len(mask)
	for i := range x {
		y[i] = x[i] * mask[i/per]
	}
}

func (dropPathApply) cpu32(_ *cpuStep, in, out [][]float32) { dropPathCPU(in[0], in[1], out[0]) }
func (dropPathApply) cpu64(_ *cpuStep, in, out [][]float64) { dropPathCPU(in[0], in[1], out[0]) }

// grad: the mask is linear and its own adjoint.
func (dropPathApply) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&dropPathApply{}, d[0], n.ins[1])
	return []*Tensor{dx, nil}, err
}
func (dropPathApply) lower(l *lowering, n *Node) error { return l.noKernel(n) }

// Dropout adds inverted dropout with drop probability rate (kept values
// scaled by 1/(1-rate)); the step's seed picks the mask.
func (g *Graph) Dropout(x *Tensor, rate float64) (*Tensor, error) {
	g.streams++
	return g.add1(&dropout{rate: rate, stream: g.streams}, x)
}

type dropout struct {
	rate   float64
	stream uint64
}

func (*dropout) name() string { return "dropout" }
func (o *dropout) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[0]); err != nil {
		return nil, err
	}
	if o.rate < 0 || !(o.rate < 1) {
		return nil, fmt.Errorf("rate %v must be in [0, 1)", o.rate)
	}
	return []Shape{ins[0].shape}, nil
}
func (o *dropout) cpu32(s *cpuStep, in, out [][]float32) {
	ref.Dropout(s.seed, o.stream, o.rate, in[0], out[0])
}
func (o *dropout) cpu64(s *cpuStep, in, out [][]float64) {
	ref.Dropout(s.seed, o.stream, o.rate, in[0], out[0])
}
func (o *dropout) grad(g *Graph, _ *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&dropout{rate: o.rate, stream: o.stream}, d[0])
	return []*Tensor{dx}, err
}
func (o *dropout) lower(l *lowering, n *Node) error {
	return l.b.Dropout(l.seed(), o.stream, o.rate, l.mem(n.ins[0]), l.mem(n.outs[0]))
}
