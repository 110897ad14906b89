package bench

import (
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
	"github.com/nfvk/nfvk/nfnet"
)

// nfnetGraph is the training step of a network built from an nfnet
// layout: forward, label-smoothed cross-entropy, backward and SGD.
type nfnetGraph struct {
	g         *graph.Graph
	x, labels *graph.Tensor
	loss      *graph.Tensor
	params    []*graph.Tensor
}

// graphBuilder walks a layout into a graph, keeping the first error so
// the walk reads as a list of layers. It lives here because graph must
// not import nfnet.
type graphBuilder struct {
	l   *nfnet.Layout
	m   *nfnetGraph
	act ref.Act
	err error
}

func (b *graphBuilder) t(v *graph.Tensor, e error) *graph.Tensor {
	if e != nil && b.err == nil {
		b.err = e
	}
	return v
}

func (b *graphBuilder) param(name string, shape graph.Shape) *graph.Tensor {
	p := b.t(b.m.g.Param(name, shape))
	if p != nil {
		b.m.params = append(b.m.params, p)
	}
	return p
}

func (b *graphBuilder) activate(x *graph.Tensor) *graph.Tensor {
	if b.err != nil {
		return nil
	}
	return b.t(b.m.g.Act(x, b.act, b.l.Act.Gamma))
}

func (b *graphBuilder) conv(c nfnet.Conv, x *graph.Tensor) *graph.Tensor {
	if b.err != nil {
		return nil
	}
	groups := max(c.Groups, 1)
	w := b.param(c.Weight, graph.Shape{c.Out, c.In / groups, c.Kernel, c.Kernel})
	gain := b.param(c.Gain, graph.Shape{c.Out})
	bias := b.param(c.Bias, graph.Shape{c.Out})
	var o graph.WSOpts
	switch {
	case c.WS.Mode == nfnet.StdConvTimm:
		o = graph.WSOpts{Formula: graph.WSTimm, Eps: c.WS.Eps, Gamma: c.WS.Gamma}
	case c.WS.Mode == nfnet.StdConvDeepMind && c.WS.Gamma == 1 && c.WS.Eps == ref.DeepMindWSMinNVar:
		o = graph.WSOpts{Formula: graph.WSDeepMind}
	default:
		b.t(nil, fmt.Errorf("%s: weight standardization %+v not supported", c.Module, c.WS))
		return nil
	}
	what := b.t(b.m.g.WS(w, gain, o))
	sh := x.Shape()
	p := c.Padding(sh[2], sh[3])
	return b.t(b.m.g.Conv2D(x, what, bias, graph.ConvOpts{Stride: c.Stride, Groups: groups, Pad: [4]int{p.Top, p.Bottom, p.Left, p.Right}}))
}

func (b *graphBuilder) linear(x *graph.Tensor, out int, wname, bname string) *graph.Tensor {
	if b.err != nil {
		return nil
	}
	in := x.Size() / x.Shape()[0]
	return b.t(b.m.g.Linear(x, b.param(wname, graph.Shape{out, in}), b.param(bname, graph.Shape{out})))
}

// block is one NFNet block: pre-activation, optional downsampling
// shortcut, the convs, SE, drop path and the residual.
func (b *graphBuilder) block(blk nfnet.Block, x *graph.Tensor) *graph.Tensor {
	g := b.m.g
	if blk.Attn != nil || blk.DropPathScaleByKeep {
		b.t(nil, fmt.Errorf("%s: mid-block attention or timm's scaled drop path not supported", blk.Module))
		return nil
	}
	pre := b.activate(x)
	if blk.Beta != 1 {
		pre = b.t(g.Scale(pre, blk.Beta))
	}
	shortcut := x
	if d := blk.Downsample; d != nil {
		s := pre
		if d.Pool != nil {
			if d.Pool.Kind != nfnet.AvgPool || d.Pool.Kernel != 2 || d.Pool.Stride != 2 {
				b.t(nil, fmt.Errorf("%s: pool %+v not supported", blk.Module, *d.Pool))
				return nil
			}
			s = b.t(g.AvgPool2x2(s))
		}
		shortcut = b.conv(d.Conv, s)
	}
	r := b.conv(blk.Conv1, pre)
	r = b.conv(blk.Conv2, b.activate(r))
	if blk.Conv2b != nil {
		r = b.conv(*blk.Conv2b, b.activate(r))
	}
	r = b.conv(blk.Conv3, b.activate(r))
	if se := blk.AttnLast; se != nil && b.err == nil {
		z := b.linear(b.t(g.GlobalMean(r)), se.Hidden, se.FC1Weight, se.FC1Bias)
		z = b.t(g.Act(z, ref.ActReLU, 1))
		z = b.linear(z, se.Channels, se.FC2Weight, se.FC2Bias)
		r = b.t(g.SEGate(r, z, se.Gain))
	}
	if blk.DropPath > 0 {
		r = b.t(g.DropPath(r, blk.DropPath))
	}
	var skip *graph.Tensor
	if blk.SkipGain != "" {
		skip = b.param(blk.SkipGain, graph.Shape{1})
	} else {
		skip = b.t(g.Constant(blk.Module+".one", graph.Shape{1}, []float32{1}))
	}
	return b.t(g.Residual(shortcut, r, skip, blk.Alpha))
}

func actKind(a nfnet.Activation) (ref.Act, error) {
	switch {
	case a.Name == "gelu" && a.GeluApproximate:
		return ref.ActGELUTanh, nil
	case a.Name == "gelu":
		return ref.ActGELUErf, nil
	case a.Name == "relu":
		return ref.ActReLU, nil
	case a.Name == "silu":
		return ref.ActSiLU, nil
	}
	return 0, fmt.Errorf("activation %q not supported", a.Name)
}

// buildNFNet walks layout l (nfnet.NewLayout) for a batch of n px x px
// images.
func buildNFNet(l *nfnet.Layout, n, px int, recomputeWS bool) (*nfnetGraph, error) {
	act, err := actKind(l.Act)
	if err != nil {
		return nil, err
	}
	if l.Stem.Pool != nil {
		return nil, errors.New("stem pool not supported")
	}
	g := graph.New()
	g.SetRecomputeWS(recomputeWS)
	b := &graphBuilder{l: l, m: &nfnetGraph{g: g}, act: act}
	m := b.m
	m.x = b.t(g.Input("x", graph.Shape{n, l.Config.InChans, px, px}))
	m.labels = b.t(g.Labels("labels", n))
	h := m.x
	for _, s := range l.Stem.Layers {
		h = b.conv(s.Conv, h)
		if s.ActAfter {
			h = b.activate(h)
		}
	}
	for _, blk := range l.Blocks {
		if b.err != nil {
			break
		}
		h = b.block(blk, h)
	}
	if l.FinalConv != nil {
		h = b.conv(*l.FinalConv, h)
	}
	h = b.activate(h)
	h = b.t(g.GlobalMean(h))
	if l.Head.DropRate > 0 && b.err == nil {
		h = b.t(g.Dropout(h, l.Head.DropRate))
	}
	logits := b.linear(h, l.Head.Classes, l.Head.Weight, l.Head.Bias)
	m.loss = b.t(g.SoftmaxCE(logits, m.labels, 0.1))
	if b.err != nil {
		return nil, b.err
	}
	g.Keep(m.loss)
	grads, err := g.Gradients(m.loss, m.params)
	if err != nil {
		return nil, err
	}
	if err := g.SGD(m.params, grads, 0.1); err != nil {
		return nil, err
	}
	return m, nil
}

// f0Graph is NFNet-F0's training step as a graph.
func f0Graph(n, px int, recomputeWS bool) (*nfnetGraph, error) {
	cfg, err := nfnet.Variant("f0")
	if err != nil {
		return nil, err
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		return nil, err
	}
	return buildNFNet(l, n, px, recomputeWS)
}
