package nfnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Config describes an NFNet the way timm's NfCfg does, plus the few
// constructor arguments of timm's NormFreeNet (in_chans, num_classes,
// drop_rate, drop_path_rate) and the switches needed to express DeepMind's
// reference behaviour (std_conv, gelu_approximate, drop_path_mode,
// param_names). timm's attn_kwargs dict is flattened into attn_rd_ratio and
// attn_rd_divisor. The JSON field names are timm's names.
type Config struct {
	// Name is a free-form label, e.g. "dm_nfnet_f0".
	Name string `json:"name"`
	// InChans is the number of input image channels (timm in_chans).
	InChans int `json:"in_chans"`
	// NumClasses is the width of the classifier (timm num_classes).
	NumClasses int `json:"num_classes"`
	// Depths is the number of blocks per stage.
	Depths []int `json:"depths"`
	// Channels is the output width of each stage, before width_factor and
	// ch_div rounding.
	Channels []int `json:"channels"`
	// Alpha is the residual branch scale.
	Alpha float64 `json:"alpha"`
	// StemType is one of the StemTypes.
	StemType string `json:"stem_type"`
	// StemChs is the stem output width; 0 (timm None) means channels[0].
	StemChs int `json:"stem_chs"`
	// GroupSize is the channel count per group of the 3x3 convs; 0 (timm
	// None) means ungrouped.
	GroupSize int `json:"group_size"`
	// BottleRatio scales the block width (out, or in when Reg) to the
	// bottleneck width.
	BottleRatio float64 `json:"bottle_ratio"`
	// AttnLayer is "se" for squeeze-excite or "" for none.
	AttnLayer string `json:"attn_layer"`
	// AttnRdRatio is the SE reduction ratio (timm attn_kwargs rd_ratio).
	AttnRdRatio float64 `json:"attn_rd_ratio"`
	// AttnRdDivisor rounds the SE hidden width (timm attn_kwargs
	// rd_divisor, default 8; DeepMind truncates, i.e. divisor 1).
	AttnRdDivisor int `json:"attn_rd_divisor"`
	// AttnGain multiplies the attention output (2 in NFNets).
	AttnGain float64 `json:"attn_gain"`
	// WidthFactor scales every channel count before ch_div rounding.
	WidthFactor float64 `json:"width_factor"`
	// NumFeatures is the final conv width; 0 means no final conv.
	NumFeatures int `json:"num_features"`
	// ChDiv is the divisor channel counts are rounded to (timm
	// make_divisible).
	ChDiv int `json:"ch_div"`
	// Reg enables timm's RegNet-style blocks: bottleneck from the input
	// width, bottle ratio 1 in the very first block, attention between the
	// grouped convs and conv3.
	Reg bool `json:"reg"`
	// ExtraConv adds the second grouped 3x3 conv (conv2b) of NFNet-F.
	ExtraConv bool `json:"extra_conv"`
	// Skipinit adds the learnable scalar skipinit_gain per block.
	Skipinit bool `json:"skipinit"`
	// ZeroInitFC initialises the classifier weight to zero instead of
	// N(0, 0.01^2).
	ZeroInitFC bool `json:"zero_init_fc"`
	// ActLayer names the nonlinearity; see ActivationGamma.
	ActLayer string `json:"act_layer"`
	// GeluApproximate selects the tanh form of GELU (DeepMind, jax
	// default); false is the exact erf form (timm).
	GeluApproximate bool `json:"gelu_approximate"`
	// GammaInAct multiplies the activation output by its gamma; otherwise
	// gamma is folded into every weight-standardised conv (timm default).
	GammaInAct bool `json:"gamma_in_act"`
	// SamePadding selects TF "SAME" padding; otherwise symmetric padding
	// ((stride-1) + (kernel-1))/2 as timm's get_padding.
	SamePadding bool `json:"same_padding"`
	// StdConv is the weight standardisation formula: "timm"
	// ((W-mu)/sqrt(var+eps)*gain*gamma/sqrt(n)) or "deepmind"
	// ((W-mu)*gain*rsqrt(max(n*var, eps))). Empty means "timm".
	StdConv string `json:"std_conv"`
	// StdConvEps is eps of the StdConv formula. When the JSON leaves it
	// out it defaults to 1e-5 for "timm" and 1e-4 for "deepmind".
	StdConvEps float64 `json:"std_conv_eps"`
	// DropRate is the dropout rate before the classifier.
	DropRate float64 `json:"drop_rate"`
	// DropPathRate is the maximum stochastic-depth rate.
	DropPathRate float64 `json:"drop_path_rate"`
	// DropPathMode is "deepmind" (block i of N drops with rate r*i/N and
	// the kept branch is not rescaled) or "timm" (rate r*i/(N-1), kept
	// branch divided by the keep probability). Empty means "deepmind".
	DropPathMode string `json:"drop_path_mode,omitempty"`
	// ParamNames is "timm" (state_dict names) or "deepmind" (haiku module
	// paths). Empty means "timm". It changes names only, never layouts.
	ParamNames string `json:"param_names,omitempty"`
}

// Values of Config.StdConv.
const (
	StdConvTimm     = "timm"
	StdConvDeepMind = "deepmind"
)

// Values of Config.DropPathMode.
const (
	DropPathDeepMind = "deepmind"
	DropPathTimm     = "timm"
)

// Values of Config.ParamNames.
const (
	NamesTimm     = "timm"
	NamesDeepMind = "deepmind"
)

// Default epsilons of the two weight standardisation formulas.
const (
	DefaultTimmStdConvEps     = 1e-5
	DefaultDeepMindStdConvEps = 1e-4
)

// maxTotalStride is the largest network stride nfvk builds. timm reaches
// larger strides only through dilation (output_stride), which nfvk does not
// implement.
const maxTotalStride = 32

// stemTypes lists the accepted stem types: timm's create_stem set plus
// "deepmind", DeepMind's NFNet stem (16, 32, 64, stem_chs; strides 2,1,1,2),
// which equals timm's "deep_quad" only when stem_chs is 128.
var stemTypes = []string{"", "deep", "deep_tiered", "deep_quad", "deepmind", "3x3", "7x7", "deep_pool", "3x3_pool", "7x7_pool"}

// StemTypes returns the accepted values of Config.StemType. The empty
// string is timm's plain 7x7 stem.
func StemTypes() []string { return append([]string(nil), stemTypes...) }

// activationGammas holds the variance-preserving gamma of every supported
// nonlinearity, verbatim from DeepMind's nfnets/base.py (timm's copy uses
// the same numbers and spells soft_sign as softsign).
var activationGammas = map[string]float64{
	"identity":    1.0,
	"celu":        1.270926833152771,
	"elu":         1.2716004848480225,
	"gelu":        1.7015043497085571,
	"leaky_relu":  1.70590341091156,
	"log_sigmoid": 1.9193484783172607,
	"log_softmax": 1.0002083778381348,
	"relu":        1.7139588594436646,
	"relu6":       1.7131484746932983,
	"selu":        1.0008515119552612,
	"sigmoid":     4.803835391998291,
	"silu":        1.7881293296813965,
	"softsign":    2.338853120803833,
	"softplus":    1.9203323125839233,
	"tanh":        1.5939117670059204,
}

// ActivationGamma returns the gamma constant of the named nonlinearity and
// whether the name is known.
func ActivationGamma(name string) (float64, bool) {
	g, ok := activationGammas[name]
	return g, ok
}

// Activations returns the supported act_layer names, sorted.
func Activations() []string {
	names := make([]string, 0, len(activationGammas))
	for n := range activationGammas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultConfig returns timm's NfCfg and NormFreeNet defaults. Depths and
// Channels are empty and must be set.
func DefaultConfig() Config {
	return Config{
		InChans:       3,
		NumClasses:    1000,
		Alpha:         0.2,
		StemType:      "3x3",
		BottleRatio:   0.5,
		AttnRdRatio:   1.0 / 16,
		AttnRdDivisor: 8,
		AttnGain:      2.0,
		WidthFactor:   1.0,
		ChDiv:         8,
		ActLayer:      "silu",
		StdConv:       StdConvTimm,
		StdConvEps:    DefaultTimmStdConvEps,
		DropPathMode:  DropPathDeepMind,
		ParamNames:    NamesTimm,
	}
}

// LoadConfig reads and validates a JSON config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("nfnet: load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("nfnet: load config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes a JSON config over DefaultConfig, rejects unknown
// fields and trailing data, and validates the result.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("nfnet: parse config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("nfnet: parse config: trailing data after the JSON object")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return Config{}, fmt.Errorf("nfnet: parse config: %w", err)
	}
	if _, ok := keys["std_conv_eps"]; !ok && cfg.StdConv == StdConvDeepMind {
		cfg.StdConvEps = DefaultDeepMindStdConvEps
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// FieldError reports one impossible or unsupported config value.
type FieldError struct {
	// Field is the JSON field name, with an index where it applies, e.g.
	// "depths[2]".
	Field string
	// Problem says what is wrong.
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("nfnet: config field %s: %s", e.Field, e.Problem)
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate reports every impossible or unsupported value, each as a
// *FieldError (joined with errors.Join). It checks the fields themselves and
// the widths they imply (bottleneck widths divisible into groups, stem
// widths at least 1, total stride).
func (c Config) Validate() error {
	if errs := c.fieldErrors(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := build(c); err != nil {
		return err
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// fieldErrors checks each field on its own.
func (c Config) fieldErrors() []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldErr(field, format, args...))
	}
	if c.InChans < 1 {
		add("in_chans", "%d: need at least 1 input channel", c.InChans)
	}
	if c.NumClasses < 1 {
		add("num_classes", "%d: need at least 1 class", c.NumClasses)
	}
	if len(c.Depths) == 0 {
		add("depths", "empty: need at least one stage")
	}
	if len(c.Depths) != len(c.Channels) {
		add("channels", "has %d entries but depths has %d: need one width per stage", len(c.Channels), len(c.Depths))
	}
	for i, d := range c.Depths {
		if d < 1 {
			add(fmt.Sprintf("depths[%d]", i), "%d: every stage needs at least one block", d)
		}
	}
	for i, ch := range c.Channels {
		if ch < 1 {
			add(fmt.Sprintf("channels[%d]", i), "%d: a stage needs at least 1 channel", ch)
		}
	}
	if !finite(c.Alpha) || c.Alpha <= 0 {
		add("alpha", "%v: must be a finite number > 0", c.Alpha)
	}
	if !contains(stemTypes, c.StemType) {
		add("stem_type", "unknown %q (known: %s)", c.StemType, quoteAll(stemTypes))
	}
	if c.StemChs < 0 {
		add("stem_chs", "%d: must be >= 0 (0 means channels[0])", c.StemChs)
	}
	if c.GroupSize < 0 {
		add("group_size", "%d: must be >= 0 (0 means ungrouped)", c.GroupSize)
	}
	if !finite(c.BottleRatio) || c.BottleRatio <= 0 {
		add("bottle_ratio", "%v: must be a finite number > 0", c.BottleRatio)
	}
	switch c.AttnLayer {
	case "":
	case "se":
		if !finite(c.AttnRdRatio) || c.AttnRdRatio <= 0 {
			add("attn_rd_ratio", "%v: must be a finite number > 0", c.AttnRdRatio)
		}
		if c.AttnRdDivisor < 1 {
			add("attn_rd_divisor", "%d: must be >= 1", c.AttnRdDivisor)
		}
		if !finite(c.AttnGain) {
			add("attn_gain", "%v: must be finite", c.AttnGain)
		}
	default:
		add("attn_layer", "unsupported %q (supported: \"se\", \"\" for none)", c.AttnLayer)
	}
	if !finite(c.WidthFactor) || c.WidthFactor <= 0 {
		add("width_factor", "%v: must be a finite number > 0", c.WidthFactor)
	}
	if c.NumFeatures < 0 {
		add("num_features", "%d: must be >= 0 (0 means no final conv)", c.NumFeatures)
	}
	if c.ChDiv < 1 {
		add("ch_div", "%d: must be >= 1", c.ChDiv)
	}
	if _, ok := activationGammas[c.ActLayer]; !ok {
		add("act_layer", "unknown %q (known: %s)", c.ActLayer, quoteAll(Activations()))
	}
	switch c.StdConv {
	case "", StdConvTimm, StdConvDeepMind:
	default:
		add("std_conv", "unknown %q (known: %q, %q)", c.StdConv, StdConvTimm, StdConvDeepMind)
	}
	if !finite(c.StdConvEps) || c.StdConvEps <= 0 {
		add("std_conv_eps", "%v: must be a finite number > 0", c.StdConvEps)
	}
	if !finite(c.DropRate) || c.DropRate < 0 || c.DropRate >= 1 {
		add("drop_rate", "%v: must lie in [0, 1)", c.DropRate)
	}
	if !finite(c.DropPathRate) || c.DropPathRate < 0 || c.DropPathRate >= 1 {
		add("drop_path_rate", "%v: must lie in [0, 1)", c.DropPathRate)
	}
	switch c.DropPathMode {
	case "", DropPathDeepMind, DropPathTimm:
	default:
		add("drop_path_mode", "unknown %q (known: %q, %q)", c.DropPathMode, DropPathDeepMind, DropPathTimm)
	}
	switch c.ParamNames {
	case "", NamesTimm, NamesDeepMind:
	default:
		add("param_names", "unknown %q (known: %q, %q)", c.ParamNames, NamesTimm, NamesDeepMind)
	}
	return errs
}

// stdConv returns StdConv with the empty default resolved.
func (c Config) stdConv() string {
	if c.StdConv == "" {
		return StdConvTimm
	}
	return c.StdConv
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// makeDivisible is timm's make_divisible: v rounded to the nearest multiple
// of divisor (at least divisor), bumped up one divisor when rounding lost
// more than (1-roundLimit) of v.
func makeDivisible(v float64, divisor int, roundLimit float64) int {
	d := float64(divisor)
	n := int(math.Floor((v+d/2)/d)) * divisor
	if n < divisor {
		n = divisor
	}
	if float64(n) < roundLimit*v {
		n += divisor
	}
	return n
}
