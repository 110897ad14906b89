package nfnet

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
	"github.com/nfvk/nfvk/safetensors"
)

// The NFNet forward pass as a graph, computed the way timm's NormFreeNet
// computes it (timm/models/nfnet.py), for any layout NewLayout derives.

// BuildOptions configure Build.
type BuildOptions struct {
	// Train adds the stochastic ops at the config's rates: stochastic
	// depth per block and dropout before the classifier. Eval mode (false)
	// has neither, as timm's model.eval().
	Train bool
}

// builder adds the nodes of one network and keeps the first error.
type builder struct {
	g      *graph.Graph
	l      *Layout
	o      BuildOptions
	act    ref.Act
	params map[string]*graph.Tensor
	specs  map[string]ParamSpec
	one    *graph.Tensor // skip gain 1 for blocks without skipinit
}

// GraphShape is the shape a parameter has inside the graph. It equals
// spec.Shape except for squeeze-excite fc weights: timm stores them as 1x1
// convs (O,I,1,1) applied to a (N,C,1,1) mean; the graph applies them as
// the identical linear map, (O,I), to the (N,C) mean. The element order is
// the same, so values load unchanged.
func GraphShape(spec ParamSpec) graph.Shape {
	if spec.Kind == SEWeight && len(spec.Shape) == 4 {
		return graph.Shape{spec.Shape[0], spec.Shape[1]}
	}
	return graph.Shape(append([]int{}, spec.Shape...))
}

// GraphAct returns the graph activation of a layout's nonlinearity, or an
// error naming the act_layer nfvk has no kernel for.
func GraphAct(a Activation) (ref.Act, error) {
	switch a.Name {
	case "identity":
		return ref.ActIdentity, nil
	case "relu":
		return ref.ActReLU, nil
	case "gelu":
		if a.GeluApproximate {
			return ref.ActGELUTanh, nil
		}
		return ref.ActGELUErf, nil
	case "silu":
		return ref.ActSiLU, nil
	case "sigmoid":
		return ref.ActSigmoid, nil
	case "elu":
		return ref.ActELU, nil
	case "tanh":
		return ref.ActTanh, nil
	}
	return 0, fieldErr("act_layer", "%q has no kernel in nfvk (supported: identity, relu, gelu, silu, sigmoid, elu, tanh)", a.Name)
}

// Build adds the network's forward pass to g, reading the batch x
// ([N, in_chans, H, W]), and returns the logits ([N, num_classes]) and
// the parameters it created, by name (the names of l.Params(); shapes per
// GraphShape). The network is, as timm computes it:
//
//   - every conv is a weight-standardised conv with bias; TF "SAME"
//     padding is derived per conv from its actual input size;
//   - stem convs, the activation after each but the last;
//   - per block, with h = act(x)*beta: shortcut = x, or the 1x1 WS conv
//     of h (first block of stage 0, channels change) or of
//     avgpool2x2(h) (ceil mode, valid-count divisor; transition blocks);
//     r = conv1(h), conv2(act r), conv2b(act r), conv3(act r); the SE
//     gate (fc1, plain ReLU, fc2, sigmoid, times attn_gain); in train
//     mode stochastic depth; out = shortcut + alpha*skipinit_gain*r;
//   - the final conv (if any), the activation, the spatial mean, dropout
//     in train mode, the classifier.
//
// The activation carries gamma everywhere except the SE's ReLU and
// sigmoid. Build fails with an error naming the module when the input
// cannot flow through the network.
func Build(g *graph.Graph, l *Layout, x *graph.Tensor, o BuildOptions) (logits *graph.Tensor, params map[string]*graph.Tensor, err error) {
	if g == nil || l == nil || x == nil {
		return nil, nil, fmt.Errorf("nfnet: build: nil graph, layout or input")
	}
	if s := x.Shape(); len(s) != 4 || s[1] != l.Config.InChans {
		return nil, nil, fmt.Errorf("nfnet: build %s: input %v: want [N, %d (in_chans), H, W]", l.Config.Name, s, l.Config.InChans)
	}
	a, err := GraphAct(l.Act)
	if err != nil {
		return nil, nil, fmt.Errorf("nfnet: build %s: %w", l.Config.Name, err)
	}
	b := &builder{g: g, l: l, o: o, act: a, params: map[string]*graph.Tensor{}, specs: map[string]ParamSpec{}}
	for _, s := range l.Params() {
		b.specs[s.Name] = s
	}
	logits, err = b.network(x)
	if err != nil {
		return nil, nil, fmt.Errorf("nfnet: build %s: %w", l.Config.Name, err)
	}
	return logits, b.params, nil
}

func (b *builder) network(x *graph.Tensor) (*graph.Tensor, error) {
	l := b.l
	if l.Stem.Pool != nil {
		// timm's *_pool stems end in a 3x3 max pool; graph has no max
		// pool op, so such configs cannot run rather than run wrongly.
		return nil, fieldErr("stem_type", "%q ends in a max pool, which nfvk does not implement", l.Config.StemType)
	}
	h := x
	var err error
	for _, sl := range l.Stem.Layers {
		if h, err = b.conv(sl.Conv, h); err != nil {
			return nil, err
		}
		if sl.ActAfter {
			if h, err = b.g.Act(h, b.act, l.Act.Gamma); err != nil {
				return nil, fmt.Errorf("%s act: %w", sl.Conv.Module, err)
			}
		}
	}
	for _, blk := range l.Blocks {
		if h, err = b.block(blk, h); err != nil {
			return nil, fmt.Errorf("%s: %w", blk.Module, err)
		}
	}
	if l.FinalConv != nil {
		if h, err = b.conv(*l.FinalConv, h); err != nil {
			return nil, err
		}
	}
	// timm's final_act runs with or without a final conv.
	if h, err = b.g.Act(h, b.act, l.Act.Gamma); err != nil {
		return nil, fmt.Errorf("final_act: %w", err)
	}
	if h, err = b.g.GlobalMean(h); err != nil {
		return nil, fmt.Errorf("head.global_pool: %w", err)
	}
	if b.o.Train && l.Head.DropRate > 0 {
		if h, err = b.g.Dropout(h, l.Head.DropRate); err != nil {
			return nil, fmt.Errorf("head dropout: %w", err)
		}
	}
	w, err := b.param(l.Head.Weight)
	if err != nil {
		return nil, err
	}
	bias, err := b.param(l.Head.Bias)
	if err != nil {
		return nil, err
	}
	logits, err := b.g.Linear(h, w, bias)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", headModule(l.Head.Weight), err)
	}
	return logits, nil
}

// param adds the named parameter (once) with its graph shape.
func (b *builder) param(name string) (*graph.Tensor, error) {
	if t, ok := b.params[name]; ok {
		return t, nil
	}
	s, ok := b.specs[name]
	if !ok {
		return nil, fmt.Errorf("parameter %q is not in the layout's parameter list", name)
	}
	t, err := b.g.Param(name, GraphShape(s))
	if err != nil {
		return nil, err
	}
	b.params[name] = t
	return t, nil
}

// conv adds one weight-standardised conv with bias.
func (b *builder) conv(c Conv, x *graph.Tensor) (*graph.Tensor, error) {
	if ch := x.Shape()[1]; ch != c.In {
		return nil, fmt.Errorf("%s: input has %d channels, the conv expects %d", c.Module, ch, c.In)
	}
	w, err := b.param(c.Weight)
	if err != nil {
		return nil, err
	}
	gain, err := b.param(c.Gain)
	if err != nil {
		return nil, err
	}
	bias, err := b.param(c.Bias)
	if err != nil {
		return nil, err
	}
	var wo graph.WSOpts
	switch c.WS.Mode {
	case StdConvTimm, "":
		wo = graph.WSOpts{Formula: graph.WSTimm, Eps: c.WS.Eps, Gamma: c.WS.Gamma}
	case StdConvDeepMind:
		// The DeepMind kernel's clamp is fixed at 1e-4 (DeepMind's value);
		// another eps would silently compute something else.
		if c.WS.Eps != DefaultDeepMindStdConvEps {
			return nil, fieldErr("std_conv_eps", "%v: the DeepMind formula max(n*var, eps) is implemented for eps %v only",
				c.WS.Eps, DefaultDeepMindStdConvEps)
		}
		wo = graph.WSOpts{Formula: graph.WSDeepMind}
		// A gamma folded into the weights scales the conv's linear part
		// only: conv(x, gamma*W) + b = conv(gamma*x, W) + b, so scale the
		// input instead.
		if c.WS.Gamma != 1 {
			if x, err = b.g.Scale(x, c.WS.Gamma); err != nil {
				return nil, fmt.Errorf("%s gamma: %w", c.Module, err)
			}
		}
	default:
		return nil, fmt.Errorf("%s: unknown weight standardisation %q", c.Module, c.WS.Mode)
	}
	what, err := b.g.WS(w, gain, wo)
	if err != nil {
		return nil, fmt.Errorf("%s ws: %w", c.Module, err)
	}
	co := graph.ConvOpts{Stride: c.Stride, Groups: c.groups()}
	switch c.Pad {
	case PadSame:
		co.Same = true
	case PadSymmetric:
		co.Pad = [4]int{c.PadSym, c.PadSym, c.PadSym, c.PadSym}
	default:
		return nil, fmt.Errorf("%s: unknown padding %v", c.Module, c.Pad)
	}
	y, err := b.g.Conv2D(x, what, bias, co)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Module, err)
	}
	return y, nil
}

// block adds one NFNet block (timm NormFreeBlock.forward).
func (b *builder) block(blk Block, x *graph.Tensor) (*graph.Tensor, error) {
	g := b.g
	// act1(x) * beta in one pass: gamma*beta*f(x).
	h, err := g.Act(x, b.act, b.l.Act.Gamma*blk.Beta)
	if err != nil {
		return nil, fmt.Errorf("act1: %w", err)
	}
	shortcut := x
	if d := blk.Downsample; d != nil {
		s := h
		if d.Pool != nil {
			if d.Pool.Kind != AvgPool || d.Pool.Kernel != 2 || d.Pool.Stride != 2 || d.Pool.Pad != PadSame {
				return nil, fmt.Errorf("downsample: only the 2x2 stride-2 ceil-mode average pool is implemented, layout has %v %dx%d/%d %v",
					d.Pool.Kind, d.Pool.Kernel, d.Pool.Kernel, d.Pool.Stride, d.Pool.Pad)
			}
			if s, err = g.AvgPool2x2(s); err != nil {
				return nil, fmt.Errorf("downsample.pool: %w", err)
			}
		}
		if shortcut, err = b.conv(d.Conv, s); err != nil {
			return nil, err
		}
	}
	r, err := b.conv(blk.Conv1, h)
	if err != nil {
		return nil, err
	}
	actConv := func(c Conv, r *graph.Tensor) (*graph.Tensor, error) {
		a, err := g.Act(r, b.act, b.l.Act.Gamma)
		if err != nil {
			return nil, fmt.Errorf("%s act: %w", c.Module, err)
		}
		return b.conv(c, a)
	}
	if r, err = actConv(blk.Conv2, r); err != nil {
		return nil, err
	}
	if blk.Conv2b != nil {
		if r, err = actConv(*blk.Conv2b, r); err != nil {
			return nil, err
		}
	}
	if blk.Attn != nil {
		if r, err = b.se(*blk.Attn, r); err != nil {
			return nil, err
		}
	}
	if r, err = actConv(blk.Conv3, r); err != nil {
		return nil, err
	}
	if blk.AttnLast != nil {
		if r, err = b.se(*blk.AttnLast, r); err != nil {
			return nil, err
		}
	}
	if b.o.Train && blk.DropPath > 0 {
		if blk.DropPathScaleByKeep {
			// timm's DropPath divides kept samples by the keep rate;
			// graph's mask does not (DeepMind's rule).
			if r, err = g.Scale(r, 1/(1-blk.DropPath)); err != nil {
				return nil, fmt.Errorf("drop path scale: %w", err)
			}
		}
		if r, err = g.DropPath(r, blk.DropPath); err != nil {
			return nil, fmt.Errorf("drop path: %w", err)
		}
	}
	var skip *graph.Tensor
	if blk.SkipGain != "" {
		if skip, err = b.param(blk.SkipGain); err != nil {
			return nil, err
		}
	} else {
		if b.one == nil {
			if b.one, err = g.Constant("nfnet.unit_skip_gain", graph.Shape{1}, []float32{1}); err != nil {
				return nil, err
			}
		}
		skip = b.one
	}
	out, err := g.Residual(shortcut, r, skip, blk.Alpha)
	if err != nil {
		return nil, fmt.Errorf("residual: %w", err)
	}
	return out, nil
}

// se adds squeeze-excite: r * gain * sigmoid(fc2(relu(fc1(mean_hw r)))).
func (b *builder) se(s SE, r *graph.Tensor) (*graph.Tensor, error) {
	g := b.g
	p := make([]*graph.Tensor, 4)
	for i, name := range []string{s.FC1Weight, s.FC1Bias, s.FC2Weight, s.FC2Bias} {
		var err error
		if p[i], err = b.param(name); err != nil {
			return nil, err
		}
	}
	z, err := g.GlobalMean(r)
	if err != nil {
		return nil, fmt.Errorf("%s mean: %w", s.Module, err)
	}
	if z, err = g.Linear(z, p[0], p[1]); err != nil {
		return nil, fmt.Errorf("%s.fc1: %w", s.Module, err)
	}
	// The SE's ReLU is plain: no gamma.
	if z, err = g.Act(z, ref.ActReLU, 1); err != nil {
		return nil, fmt.Errorf("%s act: %w", s.Module, err)
	}
	if z, err = g.Linear(z, p[2], p[3]); err != nil {
		return nil, fmt.Errorf("%s.fc2: %w", s.Module, err)
	}
	out, err := g.SEGate(r, z, s.Gain)
	if err != nil {
		return nil, fmt.Errorf("%s gate: %w", s.Module, err)
	}
	return out, nil
}

// LoadWeights reads every parameter of l from a safetensors file by name,
// checking each shape against the layout (timm's state_dict shapes).
// Extra tensors in the file are ignored.
func LoadWeights(path string, l *Layout) (map[string][]float32, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nfnet: weights: %w", err)
	}
	defer f.Close()
	out := map[string][]float32{}
	var errs []error
	for _, sp := range l.Params() {
		info, ok := f.Info(sp.Name)
		if !ok {
			errs = append(errs, fmt.Errorf("nfnet: weights %s: missing tensor %s %v", path, sp.Name, sp.Shape))
			continue
		}
		if !slices.Equal(info.Shape, sp.Shape) {
			errs = append(errs, fmt.Errorf("nfnet: weights %s: tensor %s has shape %v, the config needs %v", path, sp.Name, info.Shape, sp.Shape))
			continue
		}
		v, _, err := f.Float32s(sp.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("nfnet: weights %s: tensor %s: %w", path, sp.Name, err))
			continue
		}
		if i := firstNonFinite(v); i >= 0 {
			errs = append(errs, fmt.Errorf("nfnet: weights %s: tensor %s holds %v at index %d (a diverged or damaged file)", path, sp.Name, v[i], i))
			continue
		}
		out[sp.Name] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// firstNonFinite returns the index of the first NaN or infinity in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if !finite(float64(x)) {
			return i
		}
	}
	return -1
}

// CheckWeights checks that vals holds every parameter of specs with the
// right element count, listing every problem.
func CheckWeights(specs []ParamSpec, vals map[string][]float32) error {
	var errs []error
	for _, sp := range specs {
		v, ok := vals[sp.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("nfnet: weights: missing %s %v", sp.Name, sp.Shape))
			continue
		}
		if len(v) != sp.Numel() {
			errs = append(errs, fmt.Errorf("nfnet: weights: %s has %d values, shape %v needs %d", sp.Name, len(v), sp.Shape, sp.Numel()))
		}
	}
	return errors.Join(errs...)
}
