package nfnet

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/nfvk/nfvk/agc"
)

// Kind classifies a parameter tensor by role.
type Kind int

const (
	// ConvWeight is a weight-standardised conv weight, OIHW.
	ConvWeight Kind = iota + 1
	// Gain is a WS conv gain, shaped (O,1,1,1).
	Gain
	// Bias is any bias: WS conv, SE fc or classifier, shaped (O,).
	Bias
	// SkipGain is a block's 0-d skipinit gain.
	SkipGain
	// SEWeight is a squeeze-excite fc weight, a plain 1x1 conv (O,I,1,1).
	SEWeight
	// LinearWeight is the classifier weight, (O,I).
	LinearWeight
)

func (k Kind) String() string {
	switch k {
	case ConvWeight:
		return "conv_weight"
	case Gain:
		return "gain"
	case Bias:
		return "bias"
	case SkipGain:
		return "skip_gain"
	case SEWeight:
		return "se_weight"
	case LinearWeight:
		return "linear_weight"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParamSpec describes one parameter tensor. Layouts are always timm's
// (output dimension first), whatever the naming.
type ParamSpec struct {
	// Name is the parameter's name (timm state_dict name or DeepMind
	// haiku path, per Config.ParamNames).
	Name string
	// Shape is the tensor shape; empty for a 0-d scalar.
	Shape []int
	// Kind is the parameter's role.
	Kind Kind
	// Module is the owning module path, e.g. "stages.0.0.conv1".
	Module string
	// FanIn is the per-output fan-in of weights (kh*kw*in/groups for
	// convs, in features for linears); 0 for other kinds.
	FanIn int
	// WeightDecay says whether weight decay applies: weights yes; gains,
	// biases and skip gains no.
	WeightDecay bool
	// Classifier marks the classifier weight and bias, which AGC leaves
	// out in timm's recipe.
	Classifier bool
	// InitStd is the standard deviation of the zero-mean normal init; when
	// 0 the tensor is filled with InitValue.
	InitStd float64
	// InitValue is the constant init used when InitStd is 0.
	InitValue float64
}

// Numel returns the number of elements (1 for a 0-d scalar).
func (p ParamSpec) Numel() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Params validates cfg and returns its parameter specs in timm's
// state_dict order.
func Params(cfg Config) ([]ParamSpec, error) {
	l, err := NewLayout(cfg)
	if err != nil {
		return nil, err
	}
	return l.Params(), nil
}

// Params returns the layout's parameter specs in timm's state_dict order:
// stem convs; per block the skip gain, downsample conv, conv1, conv2,
// conv2b, attn, conv3, attn_last; final conv; classifier. Each conv lists
// weight, bias, gain.
func (l *Layout) Params() []ParamSpec {
	var ps []ParamSpec
	addConv := func(c Conv, gainInit float64) {
		ps = append(ps,
			ParamSpec{Name: c.Weight, Shape: c.WeightShape(), Kind: ConvWeight, Module: c.Module, FanIn: c.FanIn(),
				WeightDecay: true, InitStd: 1 / math.Sqrt(float64(c.FanIn()))},
			ParamSpec{Name: c.Bias, Shape: []int{c.Out}, Kind: Bias, Module: c.Module},
			ParamSpec{Name: c.Gain, Shape: []int{c.Out, 1, 1, 1}, Kind: Gain, Module: c.Module, InitValue: gainInit},
		)
	}
	addSE := func(s SE) {
		ps = append(ps,
			ParamSpec{Name: s.FC1Weight, Shape: []int{s.Hidden, s.Channels, 1, 1}, Kind: SEWeight, Module: s.Module,
				FanIn: s.Channels, WeightDecay: true, InitStd: 1 / math.Sqrt(float64(s.Channels))},
			ParamSpec{Name: s.FC1Bias, Shape: []int{s.Hidden}, Kind: Bias, Module: s.Module},
			ParamSpec{Name: s.FC2Weight, Shape: []int{s.Channels, s.Hidden, 1, 1}, Kind: SEWeight, Module: s.Module,
				FanIn: s.Hidden, WeightDecay: true, InitStd: 1 / math.Sqrt(float64(s.Hidden))},
			ParamSpec{Name: s.FC2Bias, Shape: []int{s.Channels}, Kind: Bias, Module: s.Module},
		)
	}
	for _, sl := range l.Stem.Layers {
		addConv(sl.Conv, 1)
	}
	for _, b := range l.Blocks {
		if b.SkipGain != "" {
			ps = append(ps, ParamSpec{Name: b.SkipGain, Shape: []int{}, Kind: SkipGain, Module: b.Module})
		}
		if b.Downsample != nil {
			addConv(b.Downsample.Conv, 1)
		}
		addConv(b.Conv1, 1)
		addConv(b.Conv2, 1)
		if b.Conv2b != nil {
			addConv(*b.Conv2b, 1)
		}
		if b.Attn != nil {
			addSE(*b.Attn)
		}
		// timm zero-initialises conv3's gain when there is no skip gain.
		conv3Gain := 1.0
		if b.SkipGain == "" {
			conv3Gain = 0
		}
		addConv(b.Conv3, conv3Gain)
		if b.AttnLast != nil {
			addSE(*b.AttnLast)
		}
	}
	if l.FinalConv != nil {
		addConv(*l.FinalConv, 1)
	}
	h := l.Head
	ps = append(ps,
		ParamSpec{Name: h.Weight, Shape: []int{h.Classes, h.In}, Kind: LinearWeight, Module: headModule(h.Weight),
			FanIn: h.In, WeightDecay: true, Classifier: true, InitStd: h.WeightStd},
		ParamSpec{Name: h.Bias, Shape: []int{h.Classes}, Kind: Bias, Module: headModule(h.Weight), Classifier: true},
	)
	return ps
}

func headModule(weight string) string {
	for i := len(weight) - 1; i >= 0; i-- {
		if weight[i] == '.' || weight[i] == '/' {
			return weight[:i]
		}
	}
	return weight
}

// CountParams returns the total number of elements of specs.
func CountParams(specs []ParamSpec) int64 {
	var n int64
	for _, s := range specs {
		n += int64(s.Numel())
	}
	return n
}

// Init returns freshly initialised tensors for specs, in the same order:
// a normal with standard deviation InitStd (conv and SE weights 1/sqrt(fan
// in), classifier 0.01) or the constant InitValue (gains 1, biases and skip
// gains 0). Each tensor draws from its own PCG stream keyed by seed and the
// tensor's name, so a tensor's values do not depend on the other specs.
func Init(specs []ParamSpec, seed uint64) ([][]float32, error) {
	out := make([][]float32, len(specs))
	seen := make(map[string]bool, len(specs))
	for i, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("nfnet: init spec %d: empty name", i)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("nfnet: init %s: duplicate name", s.Name)
		}
		seen[s.Name] = true
		n, err := agc.Numel(s.Shape)
		if err != nil {
			return nil, fmt.Errorf("nfnet: init %s: %w", s.Name, err)
		}
		if !finite(s.InitStd) || s.InitStd < 0 || !finite(s.InitValue) {
			return nil, fmt.Errorf("nfnet: init %s: bad init std %v or value %v", s.Name, s.InitStd, s.InitValue)
		}
		t := make([]float32, n)
		if s.InitStd > 0 {
			h := fnv.New64a()
			h.Write([]byte(s.Name))
			rng := rand.New(rand.NewPCG(seed, h.Sum64()))
			for j := range t {
				t[j] = float32(rng.NormFloat64() * s.InitStd)
			}
		} else if s.InitValue != 0 {
			v := float32(s.InitValue)
			for j := range t {
				t[j] = v
			}
		}
		out[i] = t
	}
	return out, nil
}

// namer produces parameter and module names in one convention.
type namer interface {
	stemConv(i, n int) string
	convParams(module string) (weight, bias, gain string)
	block(stage, index, global int) string
	blockConv(block, which string) string
	se(block string, reg bool) (module, fc1w, fc1b, fc2w, fc2b string)
	skipGain(block string) string
	finalConv() string
	head() (weight, bias string)
}

func namerFor(cfg Config) namer {
	if cfg.ParamNames == NamesDeepMind {
		return dmNamer{}
	}
	return timmNamer{}
}

// timmNamer produces timm state_dict names.
type timmNamer struct{}

func (timmNamer) stemConv(i, n int) string {
	if n == 1 {
		return "stem.conv"
	}
	return "stem.conv" + strconv.Itoa(i+1)
}

func (timmNamer) convParams(m string) (string, string, string) {
	return m + ".weight", m + ".bias", m + ".gain"
}

func (timmNamer) block(stage, index, _ int) string {
	return "stages." + strconv.Itoa(stage) + "." + strconv.Itoa(index)
}

func (timmNamer) blockConv(b, which string) string {
	if which == "downsample" {
		return b + ".downsample.conv"
	}
	return b + "." + which
}

func (timmNamer) se(b string, reg bool) (string, string, string, string, string) {
	m := b + ".attn_last"
	if reg {
		m = b + ".attn"
	}
	return m, m + ".fc1.weight", m + ".fc1.bias", m + ".fc2.weight", m + ".fc2.bias"
}

func (timmNamer) skipGain(b string) string { return b + ".skipinit_gain" }
func (timmNamer) finalConv() string        { return "final_conv" }
func (timmNamer) head() (string, string)   { return "head.fc.weight", "head.fc.bias" }
func (dmNamer) finalConv() string          { return "NFNet/~/final_conv" }
func (dmNamer) head() (string, string)     { return "NFNet/~/linear/w", "NFNet/~/linear/b" }
func (dmNamer) skipGain(b string) string   { return b + "/skip_gain" }
func (dmNamer) stemConv(i, _ int) string   { return "NFNet/~/stem_conv" + strconv.Itoa(i) }
func (dmNamer) convParams(m string) (string, string, string) {
	return m + "/w", m + "/bias", m + "/gain"
}

// dmNamer produces DeepMind haiku parameter paths ("module/param"): blocks
// are nf_block, nf_block_1, ...; timm's conv1, conv2, conv2b, conv3 and
// downsample.conv are DeepMind's conv0, conv1, conv1b, conv2 and
// conv_shortcut; SE fcs are squeeze_excite/~/linear and linear_1.
type dmNamer struct{}

func (dmNamer) block(_, _, global int) string {
	if global == 0 {
		return "NFNet/~/nf_block"
	}
	return "NFNet/~/nf_block_" + strconv.Itoa(global)
}

var dmConvNames = map[string]string{
	"conv1": "conv0", "conv2": "conv1", "conv2b": "conv1b", "conv3": "conv2", "downsample": "conv_shortcut",
}

func (dmNamer) blockConv(b, which string) string { return b + "/~/" + dmConvNames[which] }

func (dmNamer) se(b string, _ bool) (string, string, string, string, string) {
	m := b + "/~/squeeze_excite"
	return m, m + "/~/linear/w", m + "/~/linear/b", m + "/~/linear_1/w", m + "/~/linear_1/b"
}
