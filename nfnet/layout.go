package nfnet

import (
	"fmt"
	"math"
)

// PadMode says how a conv or pool pads its input.
type PadMode int

const (
	// PadSame is TensorFlow "SAME": per axis, total = max((ceil(n/s)-1)*s
	// + k - n, 0), total/2 before (top/left), the rest after. It depends
	// on the input size; see SamePad.
	PadSame PadMode = iota + 1
	// PadSymmetric pads a fixed amount on every side (timm's get_padding:
	// ((stride-1) + (kernel-1)) / 2).
	PadSymmetric
)

func (m PadMode) String() string {
	switch m {
	case PadSame:
		return "same"
	case PadSymmetric:
		return "symmetric"
	}
	return fmt.Sprintf("PadMode(%d)", int(m))
}

// Pad2D is the padding of one spatial input, in elements.
type Pad2D struct {
	Top, Bottom, Left, Right int
}

// SamePad returns the TF "SAME" padding before and after one axis of n
// elements for a window k with stride s. It returns zeros for n, k or s
// below 1.
func SamePad(n, k, s int) (before, after int) {
	if n < 1 || k < 1 || s < 1 {
		return 0, 0
	}
	out := (n + s - 1) / s
	total := (out-1)*s + k - n
	if total < 0 {
		total = 0
	}
	return total / 2, total - total/2
}

// symmetricPad is timm's get_padding for dilation 1.
func symmetricPad(k, s int) int { return ((s - 1) + (k - 1)) / 2 }

// window is the geometry shared by convs and pools.
type window struct {
	kernel, stride int
	pad            PadMode
	padSym         int
}

func (w window) padding(h, wd int) Pad2D {
	if w.pad == PadSame {
		t, b := SamePad(h, w.kernel, w.stride)
		l, r := SamePad(wd, w.kernel, w.stride)
		return Pad2D{Top: t, Bottom: b, Left: l, Right: r}
	}
	p := w.padSym
	return Pad2D{Top: p, Bottom: p, Left: p, Right: p}
}

func (w window) outputSize(h, wd int) (int, int) {
	if h < 1 || wd < 1 || w.stride < 1 {
		return 0, 0
	}
	if w.pad == PadSame {
		return (h + w.stride - 1) / w.stride, (wd + w.stride - 1) / w.stride
	}
	oh := (h+2*w.padSym-w.kernel)/w.stride + 1
	ow := (wd+2*w.padSym-w.kernel)/w.stride + 1
	return max(oh, 0), max(ow, 0)
}

// WS describes the scaled weight standardisation of a conv.
type WS struct {
	// Mode is StdConvTimm: What = (W-mu)/sqrt(var+Eps) * gain * Gamma /
	// sqrt(n); or StdConvDeepMind: What = (W-mu) * gain * Gamma *
	// rsqrt(max(n*var, Eps)). var is the biased variance over the fan-in
	// n = kh*kw*in/groups of each output channel.
	Mode string
	// Eps is the epsilon of Mode's formula.
	Eps float64
	// Gamma is the activation gamma folded into the conv when the config
	// keeps gamma out of the activation (timm gamma_in_act=false); 1
	// otherwise.
	Gamma float64
}

// Conv is one weight-standardised conv with bias and gain.
type Conv struct {
	// Module is the conv's module path, e.g. "stages.0.0.conv2".
	Module string
	// Weight, Bias and Gain are the parameter names.
	Weight, Bias, Gain string
	// In and Out are channel counts; Groups divides both.
	In, Out, Groups int
	// Kernel is the square kernel size; Stride the stride on both axes.
	Kernel, Stride int
	// Pad is the padding mode; PadSym the per-side padding when Pad is
	// PadSymmetric.
	Pad    PadMode
	PadSym int
	// WS is the weight standardisation.
	WS WS
}

func (c Conv) window() window {
	return window{kernel: c.Kernel, stride: c.Stride, pad: c.Pad, padSym: c.PadSym}
}

// groups returns Groups, treating a hand-built zero as 1.
func (c Conv) groups() int { return max(c.Groups, 1) }

// FanIn is kh*kw*in/groups, the WS and initialisation fan-in.
func (c Conv) FanIn() int { return c.Kernel * c.Kernel * c.In / c.groups() }

// WeightShape is the OIHW shape of the weight.
func (c Conv) WeightShape() []int { return []int{c.Out, c.In / c.groups(), c.Kernel, c.Kernel} }

// Padding returns the padding for an h x w input.
func (c Conv) Padding(h, w int) Pad2D { return c.window().padding(h, w) }

// OutputSize returns the output spatial size for an h x w input.
func (c Conv) OutputSize(h, w int) (int, int) { return c.window().outputSize(h, w) }

// MACs returns the multiply-accumulates of one sample for an h x w input.
func (c Conv) MACs(h, w int) int64 {
	oh, ow := c.OutputSize(h, w)
	return int64(oh) * int64(ow) * int64(c.Out) * int64(c.FanIn())
}

// PoolKind is the reduction of a pool.
type PoolKind int

const (
	// AvgPool averages the valid (unpadded) elements of each window: TF
	// "SAME" average pooling, equal to PyTorch's AvgPool2d(2, 2,
	// ceil_mode=True, count_include_pad=False) for the 2x2 stride-2 pool of
	// the transition shortcut.
	AvgPool PoolKind = iota + 1
	// MaxPool takes the maximum; padding never wins.
	MaxPool
)

func (k PoolKind) String() string {
	switch k {
	case AvgPool:
		return "avg"
	case MaxPool:
		return "max"
	}
	return fmt.Sprintf("PoolKind(%d)", int(k))
}

// Pool is a parameter-free spatial pool.
type Pool struct {
	Kind           PoolKind
	Kernel, Stride int
	Pad            PadMode
	PadSym         int
}

func (p Pool) window() window {
	return window{kernel: p.Kernel, stride: p.Stride, pad: p.Pad, padSym: p.PadSym}
}

// Padding returns the padding for an h x w input.
func (p Pool) Padding(h, w int) Pad2D { return p.window().padding(h, w) }

// OutputSize returns the output spatial size for an h x w input.
func (p Pool) OutputSize(h, w int) (int, int) { return p.window().outputSize(h, w) }

// Activation is the network's nonlinearity: out = Gamma * f(x).
type Activation struct {
	// Name is the act_layer name.
	Name string
	// Gamma multiplies f's output: the act's gamma when the config puts
	// gamma in the activation, else 1 (gamma then sits in WS.Gamma).
	Gamma float64
	// GeluApproximate selects the tanh form when Name is "gelu".
	GeluApproximate bool
}

// StemLayer is one stem conv and whether the activation follows it.
type StemLayer struct {
	Conv     Conv
	ActAfter bool
}

// Stem is the input stem: convs in order, then an optional max pool.
type Stem struct {
	Layers []StemLayer
	Pool   *Pool
	// Out is the stem output width; Stride its total stride.
	Out, Stride int
}

// SE is a squeeze-excite unit: mean over H and W, fc1 (1x1 conv with bias),
// plain ReLU, fc2, sigmoid; the block multiplies its input by Gain times
// the result.
type SE struct {
	Module                                 string
	Channels, Hidden                       int
	FC1Weight, FC1Bias, FC2Weight, FC2Bias string
	Gain                                   float64
}

// MACs returns the multiply-accumulates of one sample.
func (s SE) MACs() int64 { return 2 * int64(s.Channels) * int64(s.Hidden) }

// Downsample is the projection shortcut: optional pool, then a 1x1 conv.
type Downsample struct {
	Pool *Pool
	Conv Conv
}

// Block is one NFNet block. With h = Act(x) * Beta:
//
//	shortcut = x                     when Downsample is nil
//	         = Downsample.Conv(Pool(h)) otherwise (Pool may be nil)
//	r = Conv1(h)
//	r = Conv2(Act(r))                (carries the block stride)
//	r = Conv2b(Act(r))               when Conv2b is not nil
//	r = Attn.Gain * Attn(r) * r      when Attn is not nil (reg blocks)
//	r = Conv3(Act(r))
//	r = AttnLast.Gain * AttnLast(r) * r  when AttnLast is not nil
//	r = drop_path(r, DropPath, DropPathScaleByKeep)
//	r = r * skipinit_gain            when SkipGain is not ""
//	out = r * Alpha + shortcut
type Block struct {
	// Module is the block's module path; Stage and Index its stage and
	// position in the stage; Global its position in the network.
	Module              string
	Stage, Index        int
	Global              int
	In, Out, Mid        int
	Groups, Stride      int
	Beta, Alpha         float64
	Downsample          *Downsample
	Conv1, Conv2, Conv3 Conv
	Conv2b              *Conv
	Attn, AttnLast      *SE
	// DropPath is this block's stochastic-depth drop rate.
	DropPath float64
	// DropPathScaleByKeep divides kept branches by 1-DropPath (timm);
	// DeepMind does not.
	DropPathScaleByKeep bool
	// SkipGain is the name of the 0-d skip gain, "" without skipinit.
	SkipGain string
}

// OutputSize returns the block's output spatial size for an h x w input.
func (b Block) OutputSize(h, w int) (int, int) { return b.Conv2.OutputSize(h, w) }

// MACs returns the multiply-accumulates of one sample for an h x w input.
func (b Block) MACs(h, w int) int64 {
	n := b.Conv1.MACs(h, w)
	n += b.Conv2.MACs(h, w)
	oh, ow := b.Conv2.OutputSize(h, w)
	if b.Conv2b != nil {
		n += b.Conv2b.MACs(oh, ow)
	}
	if b.Attn != nil {
		n += b.Attn.MACs()
	}
	n += b.Conv3.MACs(oh, ow)
	if b.AttnLast != nil {
		n += b.AttnLast.MACs()
	}
	if d := b.Downsample; d != nil {
		ph, pw := h, w
		if d.Pool != nil {
			ph, pw = d.Pool.OutputSize(h, w)
		}
		n += d.Conv.MACs(ph, pw)
	}
	return n
}

// Head is global mean pooling, inverted dropout and the linear classifier.
type Head struct {
	In, Classes  int
	DropRate     float64
	Weight, Bias string
	// WeightStd is the init standard deviation of Weight (0.01, or 0 with
	// zero_init_fc).
	WeightStd float64
}

// Layout is the deterministic description of a network that the graph
// builder walks: Stem, Blocks in order, FinalConv (nil when num_features is
// 0), the activation Act after it (applied even without a final conv, as
// timm's final_act), then Head.
type Layout struct {
	Config      Config
	Act         Activation
	Stem        Stem
	Blocks      []Block
	FinalConv   *Conv
	NumFeatures int
	Head        Head
}

// NewLayout validates cfg and derives its layout.
func NewLayout(cfg Config) (*Layout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return build(cfg)
}

// build derives the layout from a config whose fields passed fieldErrors;
// it reports the derived impossibilities as *FieldError.
func build(cfg Config) (*Layout, error) {
	nm := namerFor(cfg)
	gamma := activationGammas[cfg.ActLayer]
	l := &Layout{Config: cfg}
	l.Act = Activation{Name: cfg.ActLayer, Gamma: 1, GeluApproximate: cfg.GeluApproximate}
	ws := WS{Mode: cfg.stdConv(), Eps: cfg.StdConvEps, Gamma: 1}
	if cfg.GammaInAct {
		l.Act.Gamma = gamma
	} else {
		ws.Gamma = gamma
	}
	conv := func(module string, in, out, k, s, groups int) Conv {
		c := Conv{Module: module, In: in, Out: out, Groups: groups, Kernel: k, Stride: s, WS: ws}
		c.Weight, c.Bias, c.Gain = nm.convParams(module)
		if cfg.SamePadding {
			c.Pad = PadSame
		} else {
			c.Pad, c.PadSym = PadSymmetric, symmetricPad(k, s)
		}
		return c
	}
	avgPool := Pool{Kind: AvgPool, Kernel: 2, Stride: 2, Pad: PadSame}

	// Stem (timm create_stem).
	stemOut := cfg.StemChs
	if stemOut == 0 {
		stemOut = cfg.Channels[0]
	}
	stemOut = makeDivisible(float64(stemOut)*cfg.WidthFactor, cfg.ChDiv, 0.9)
	var widths, strides []int
	kernel := 3
	switch cfg.StemType {
	case "deep_quad":
		widths = []int{stemOut / 8, stemOut / 4, stemOut / 2, stemOut}
		strides = []int{2, 1, 1, 2}
	case "deepmind":
		widths = []int{16, 32, 64, stemOut}
		strides = []int{2, 1, 1, 2}
	case "deep", "deep_pool":
		widths = []int{stemOut / 2, stemOut / 2, stemOut}
		strides = []int{2, 1, 1}
	case "deep_tiered":
		widths = []int{3 * stemOut / 8, stemOut / 2, stemOut}
		strides = []int{2, 1, 1}
	case "3x3", "3x3_pool":
		widths, strides = []int{stemOut}, []int{2}
	default: // "", "7x7", "7x7_pool"
		widths, strides = []int{stemOut}, []int{2}
		kernel = 7
	}
	in := cfg.InChans
	l.Stem.Stride = 1
	for i, w := range widths {
		if w < 1 {
			return nil, fieldErr("stem_chs", "%d gives stem conv %d a width of %d (stem %q needs stem_chs >= %d)",
				stemOut, i+1, w, cfg.StemType, minStemChs(cfg.StemType))
		}
		c := conv(nm.stemConv(i, len(widths)), in, w, kernel, strides[i], 1)
		l.Stem.Layers = append(l.Stem.Layers, StemLayer{Conv: c, ActAfter: i != len(widths)-1})
		l.Stem.Stride *= strides[i]
		in = w
	}
	if len(cfg.StemType) > 5 && cfg.StemType[len(cfg.StemType)-5:] == "_pool" {
		l.Stem.Pool = &Pool{Kind: MaxPool, Kernel: 3, Stride: 2, Pad: PadSymmetric, PadSym: 1}
		l.Stem.Stride *= 2
	}
	l.Stem.Out = in

	// Blocks (timm NormFreeNet.__init__, DeepMind NFNet.__init__).
	total := 0
	for _, d := range cfg.Depths {
		total += d
	}
	netStride := l.Stem.Stride
	expectedVar := 1.0
	prev := l.Stem.Out
	global := 0
	for s, depth := range cfg.Depths {
		stride := 2
		if s == 0 && l.Stem.Stride > 2 {
			stride = 1
		}
		netStride *= stride
		if netStride > maxTotalStride {
			return nil, fieldErr("depths", "%d stages after a stride-%d stem reach total stride %d; above %d timm dilates, which nfvk does not support",
				len(cfg.Depths), l.Stem.Stride, netStride, maxTotalStride)
		}
		out := makeDivisible(float64(cfg.Channels[s])*cfg.WidthFactor, cfg.ChDiv, 0.9)
		for i := 0; i < depth; i++ {
			b, err := buildBlock(cfg, nm, conv, avgPool, s, i, global, prev, out, stride, total, expectedVar)
			if err != nil {
				return nil, err
			}
			l.Blocks = append(l.Blocks, b)
			if i == 0 {
				expectedVar = 1
			}
			expectedVar += cfg.Alpha * cfg.Alpha
			prev = out
			global++
		}
	}

	// Final conv, activation and head.
	l.NumFeatures = prev
	if cfg.NumFeatures > 0 {
		l.NumFeatures = makeDivisible(cfg.WidthFactor*float64(cfg.NumFeatures), cfg.ChDiv, 0.9)
		c := conv(nm.finalConv(), prev, l.NumFeatures, 1, 1, 1)
		l.FinalConv = &c
	}
	l.Head = Head{In: l.NumFeatures, Classes: cfg.NumClasses, DropRate: cfg.DropRate, WeightStd: 0.01}
	if cfg.ZeroInitFC {
		l.Head.WeightStd = 0
	}
	l.Head.Weight, l.Head.Bias = nm.head()
	return l, nil
}

func minStemChs(stemType string) int {
	switch stemType {
	case "deep_quad":
		return 8
	case "deep", "deep_pool":
		return 2
	case "deep_tiered":
		return 3
	}
	return 1
}

// buildBlock derives block i of stage s.
func buildBlock(cfg Config, nm namer, conv func(string, int, int, int, int, int) Conv, avgPool Pool,
	s, i, global, in, out, stageStride, total int, expectedVar float64) (Block, error) {
	stride := 1
	if i == 0 {
		stride = stageStride
	}
	ratio := cfg.BottleRatio
	if cfg.Reg && s == 0 && i == 0 {
		ratio = 1
	}
	base := out
	if cfg.Reg {
		base = in
	}
	mid := makeDivisible(float64(base)*ratio, cfg.ChDiv, 0.9)
	groups := 1
	if cfg.GroupSize > 0 {
		groups = mid / cfg.GroupSize
		if groups < 1 {
			return Block{}, fieldErr("group_size", "%d exceeds the %d bottleneck channels of block stages.%d.%d (channels[%d]=%d, bottle_ratio %v)",
				cfg.GroupSize, mid, s, i, s, cfg.Channels[s], cfg.BottleRatio)
		}
		if cfg.GroupSize%cfg.ChDiv == 0 {
			mid = cfg.GroupSize * groups
		}
		if mid%groups != 0 {
			return Block{}, fieldErr("group_size", "%d splits the %d bottleneck channels of block stages.%d.%d into %d groups, which do not divide %d (make group_size a multiple of ch_div %d or choose channels[%d] accordingly)",
				cfg.GroupSize, mid, s, i, groups, mid, cfg.ChDiv, s)
		}
	}
	b := Block{
		Module: nm.block(s, i, global),
		Stage:  s, Index: i, Global: global,
		In: in, Out: out, Mid: mid, Groups: groups, Stride: stride,
		Beta:  1 / math.Sqrt(expectedVar),
		Alpha: cfg.Alpha,
	}
	if in != out || stride != 1 {
		d := &Downsample{Conv: conv(nm.blockConv(b.Module, "downsample"), in, out, 1, 1, 1)}
		if stride > 1 {
			p := avgPool
			d.Pool = &p
		}
		b.Downsample = d
	}
	b.Conv1 = conv(nm.blockConv(b.Module, "conv1"), in, mid, 1, 1, 1)
	b.Conv2 = conv(nm.blockConv(b.Module, "conv2"), mid, mid, 3, stride, groups)
	if cfg.ExtraConv {
		c := conv(nm.blockConv(b.Module, "conv2b"), mid, mid, 3, 1, groups)
		b.Conv2b = &c
	}
	b.Conv3 = conv(nm.blockConv(b.Module, "conv3"), mid, out, 1, 1, 1)
	if cfg.AttnLayer == "se" {
		ch := out
		if cfg.Reg {
			ch = mid
		}
		se := SE{Channels: ch, Hidden: makeDivisible(float64(ch)*cfg.AttnRdRatio, cfg.AttnRdDivisor, 0), Gain: cfg.AttnGain}
		se.Module, se.FC1Weight, se.FC1Bias, se.FC2Weight, se.FC2Bias = nm.se(b.Module, cfg.Reg)
		if cfg.Reg {
			b.Attn = &se
		} else {
			b.AttnLast = &se
		}
	}
	if cfg.Skipinit {
		b.SkipGain = nm.skipGain(b.Module)
	}
	b.DropPath = dropPathRate(cfg, global, total)
	b.DropPathScaleByKeep = cfg.DropPathMode == DropPathTimm
	return b, nil
}

// dropPathRate is DeepMind's r*i/N or timm's linspace(0, r, N)[i].
func dropPathRate(cfg Config, i, n int) float64 {
	r := cfg.DropPathRate
	if cfg.DropPathMode == DropPathTimm {
		if n < 2 {
			return 0
		}
		return r * float64(i) / float64(n-1)
	}
	return r * float64(i) / float64(n)
}

// InputSizes returns the spatial size entering each block for an h x w
// image, and the size entering the final conv.
func (l *Layout) InputSizes(h, w int) (blocks [][2]int, final [2]int) {
	for _, sl := range l.Stem.Layers {
		h, w = sl.Conv.OutputSize(h, w)
	}
	if l.Stem.Pool != nil {
		h, w = l.Stem.Pool.OutputSize(h, w)
	}
	blocks = make([][2]int, len(l.Blocks))
	for i, b := range l.Blocks {
		blocks[i] = [2]int{h, w}
		h, w = b.OutputSize(h, w)
	}
	return blocks, [2]int{h, w}
}

// MACs returns the multiply-accumulates of one h x w sample through convs
// and linears, as DeepMind's NFNet.count_flops counts them (stem, block
// convs, SE fcs, shortcut convs, final conv, classifier; no pools,
// activations, biases or WS). DeepMind divides h and w by each stride as
// floats; this uses the true output sizes (ceil(n/s) for SAME padding), so
// the two agree whenever every strided size is even, e.g. at every test
// resolution of F0..F7.
func (l *Layout) MACs(h, w int) (int64, error) {
	if h < 1 || w < 1 {
		return 0, fmt.Errorf("nfnet: MACs: input size %dx%d: need at least 1x1", h, w)
	}
	var n int64
	for _, sl := range l.Stem.Layers {
		n += sl.Conv.MACs(h, w)
		h, w = sl.Conv.OutputSize(h, w)
	}
	if l.Stem.Pool != nil {
		h, w = l.Stem.Pool.OutputSize(h, w)
	}
	for _, b := range l.Blocks {
		if h < 1 || w < 1 {
			return 0, fmt.Errorf("nfnet: MACs: input too small: %s gets a %dx%d input", b.Module, h, w)
		}
		n += b.MACs(h, w)
		h, w = b.OutputSize(h, w)
	}
	if l.FinalConv != nil {
		n += l.FinalConv.MACs(h, w)
	}
	n += int64(l.Head.In) * int64(l.Head.Classes)
	return n, nil
}

// MACs validates cfg and returns the multiply-accumulates of one h x w
// sample; see Layout.MACs.
func MACs(cfg Config, h, w int) (int64, error) {
	l, err := NewLayout(cfg)
	if err != nil {
		return 0, err
	}
	return l.MACs(h, w)
}
