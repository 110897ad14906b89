package nfnet

import (
	"fmt"
	"strconv"
	"strings"
)

// fSeries holds DeepMind's F-series table (nfnets/base.py nfnet_params).
var fSeries = []struct {
	depths      []int
	train, test int
	dropRate    float64
}{
	{[]int{1, 2, 6, 3}, 192, 256, 0.2},
	{[]int{2, 4, 12, 6}, 224, 320, 0.3},
	{[]int{3, 6, 18, 9}, 256, 352, 0.4},
	{[]int{4, 8, 24, 12}, 320, 416, 0.4},
	{[]int{5, 10, 30, 15}, 384, 512, 0.5},
	{[]int{6, 12, 36, 18}, 416, 544, 0.5},
	{[]int{7, 14, 42, 21}, 448, 576, 0.5},
	{[]int{8, 16, 48, 24}, 480, 608, 0.5},
}

// Stage widths of the F and F+ series.
var (
	fWidths     = []int{256, 512, 1536, 1536}
	fPlusWidths = []int{384, 768, 2048, 2048}
)

// DeepMindStochDepthRate is the stochastic-depth rate of DeepMind's
// ImageNet recipe, used by every F variant.
const DeepMindStochDepthRate = 0.25

// timmVariants is how many dm_nfnet_f* models timm defines (f0..f6).
const timmVariants = 7

// Variants returns the names Variant accepts: DeepMind's f0..f7 and
// f0+..f7+, then timm's dm_nfnet_f0..dm_nfnet_f6.
func Variants() []string {
	var names []string
	for i := range fSeries {
		names = append(names, "f"+strconv.Itoa(i))
	}
	for i := range fSeries {
		names = append(names, "f"+strconv.Itoa(i)+"+")
	}
	for i := 0; i < timmVariants; i++ {
		names = append(names, "dm_nfnet_f"+strconv.Itoa(i))
	}
	return names
}

// parseVariant returns the F index of name and its family.
func parseVariant(name string) (idx int, plus, timm bool, err error) {
	s := name
	if rest, ok := strings.CutPrefix(s, "dm_nfnet_"); ok {
		s, timm = rest, true
	}
	if rest, ok := strings.CutSuffix(s, "+"); ok && !timm {
		s, plus = rest, true
	}
	digits, ok := strings.CutPrefix(s, "f")
	if !ok || len(digits) != 1 || digits[0] < '0' || digits[0] > '9' {
		return 0, false, false, fmt.Errorf("nfnet: unknown variant %q (known: %s)", name, strings.Join(Variants(), ", "))
	}
	idx = int(digits[0] - '0')
	if idx >= len(fSeries) || (timm && idx >= timmVariants) {
		return 0, false, false, fmt.Errorf("nfnet: unknown variant %q (known: %s)", name, strings.Join(Variants(), ", "))
	}
	return idx, plus, timm, nil
}

// Variant returns the config of a named variant.
//
// "f0".."f7" and "f0+".."f7+" are DeepMind's NFNets as in nfnets/nfnet.py:
// stem 3→16→32→64→widths[0]/2, bottleneck width int(out/2) rounded down to
// a multiple of the group width 128, SE hidden int(out/2), final conv to
// 2*widths[-1], gamma in the tanh-approximated GELU, DeepMind's WS
// (rsqrt(max(n*var, 1e-4))), SAME padding, skip gains, the table's dropout,
// stochastic depth 0.25 with rate r*i/N and no rescaling, and DeepMind's
// haiku parameter names.
//
// "dm_nfnet_f0".."dm_nfnet_f6" are timm's DeepMind-compatible models as
// timm builds them by default: deep_quad stem of 128, exact-erf GELU with
// gamma in the activation, timm's WS with eps 1e-5, SAME padding, no
// dropout or drop path, timm's parameter names.
func Variant(name string) (Config, error) {
	idx, plus, timm, err := parseVariant(name)
	if err != nil {
		return Config{}, err
	}
	f := fSeries[idx]
	widths := fWidths
	if plus {
		widths = fPlusWidths
	}
	cfg := Config{
		Name:            name,
		InChans:         3,
		NumClasses:      1000,
		Depths:          append([]int(nil), f.depths...),
		Channels:        append([]int(nil), widths...),
		Alpha:           0.2,
		GroupSize:       128,
		BottleRatio:     0.5,
		AttnLayer:       "se",
		AttnRdRatio:     0.5,
		AttnGain:        2.0,
		WidthFactor:     1.0,
		NumFeatures:     2 * widths[len(widths)-1],
		ExtraConv:       true,
		Skipinit:        true,
		ActLayer:        "gelu",
		GammaInAct:      true,
		SamePadding:     true,
		GeluApproximate: false,
	}
	if timm {
		cfg.StemType = "deep_quad"
		cfg.StemChs = 128
		cfg.AttnRdDivisor = 8
		cfg.ChDiv = 8
		cfg.StdConv = StdConvTimm
		cfg.StdConvEps = DefaultTimmStdConvEps
		cfg.DropPathMode = DropPathTimm
		cfg.ParamNames = NamesTimm
	} else {
		cfg.StemType = "deepmind"
		cfg.StemChs = widths[0] / 2
		// DeepMind uses the exact widths (int(ch*ratio)); divisor 1 keeps
		// them, as every product here is a whole number.
		cfg.AttnRdDivisor = 1
		cfg.ChDiv = 1
		cfg.GeluApproximate = true
		cfg.StdConv = StdConvDeepMind
		cfg.StdConvEps = DefaultDeepMindStdConvEps
		cfg.DropRate = f.dropRate
		cfg.DropPathRate = DeepMindStochDepthRate
		cfg.DropPathMode = DropPathDeepMind
		cfg.ParamNames = NamesDeepMind
	}
	return cfg, nil
}

// VariantResolution returns the train and test image sizes of a named
// variant (DeepMind's table; timm's dm_nfnet models use the same).
func VariantResolution(name string) (train, test int, err error) {
	idx, _, _, err := parseVariant(name)
	if err != nil {
		return 0, 0, err
	}
	return fSeries[idx].train, fSeries[idx].test, nil
}
