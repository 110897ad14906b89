package nfnet

import (
	"math"
	"reflect"
	"testing"
)

func mustLayout(t *testing.T, cfg Config) *Layout {
	t.Helper()
	l, err := NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustVariant(t *testing.T, name string) Config {
	t.Helper()
	c, err := Variant(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSamePad(t *testing.T) {
	tests := []struct {
		n, k, s       int
		before, after int
	}{
		{8, 3, 2, 0, 1},  // even input, stride 2: (0,1)
		{9, 3, 2, 1, 1},  // odd input: (1,1)
		{36, 3, 2, 0, 1}, // the fixture's odd-input run starts even
		{8, 3, 1, 1, 1},  // stride 1 3x3: 1 each side
		{8, 1, 1, 0, 0},
		{9, 2, 2, 0, 1}, // 2x2 pool on odd input
		{8, 2, 2, 0, 0},
		{1, 3, 2, 1, 1},
		{5, 7, 2, 3, 3},
		{0, 3, 2, 0, 0}, // nonsense sizes pad nothing
	}
	for _, tc := range tests {
		b, a := SamePad(tc.n, tc.k, tc.s)
		if b != tc.before || a != tc.after {
			t.Errorf("SamePad(%d, %d, %d) = (%d, %d), want (%d, %d)", tc.n, tc.k, tc.s, b, a, tc.before, tc.after)
		}
	}
}

// TestBetas checks beta against the closed form of the spec: block j >= 1
// of a stage has (1 + j*alpha^2)^-1/2; block 0 of stage s > 0 has the
// previous stage's final value (1 + depth[s-1]*alpha^2)^-1/2; the very
// first block has 1.
func TestBetas(t *testing.T) {
	for _, v := range []string{"f0", "f3", "dm_nfnet_f1"} {
		cfg := mustVariant(t, v)
		l := mustLayout(t, cfg)
		a2 := cfg.Alpha * cfg.Alpha
		for _, b := range l.Blocks {
			var want float64
			switch {
			case b.Index > 0:
				want = 1 / math.Sqrt(1+float64(b.Index)*a2)
			case b.Stage > 0:
				want = 1 / math.Sqrt(1+float64(cfg.Depths[b.Stage-1])*a2)
			default:
				want = 1
			}
			if math.Abs(b.Beta-want) > 1e-15 || b.Alpha != cfg.Alpha {
				t.Errorf("%s %s: beta %v alpha %v, want %v %v", v, b.Module, b.Beta, b.Alpha, want, cfg.Alpha)
			}
		}
	}
}

func TestDropPathRates(t *testing.T) {
	cfg := mustVariant(t, "f0")
	l := mustLayout(t, cfg)
	n := len(l.Blocks)
	if n != 12 {
		t.Fatalf("f0 has %d blocks, want 12", n)
	}
	for i, b := range l.Blocks {
		want := 0.25 * float64(i) / float64(n)
		if b.Global != i || math.Abs(b.DropPath-want) > 1e-15 || b.DropPathScaleByKeep {
			t.Errorf("block %d: global %d rate %v rescale %v, want rate %v, no rescale", i, b.Global, b.DropPath, b.DropPathScaleByKeep, want)
		}
	}
	cfg.DropPathMode = DropPathTimm
	l = mustLayout(t, cfg)
	for i, b := range l.Blocks {
		want := 0.25 * float64(i) / float64(n-1)
		if math.Abs(b.DropPath-want) > 1e-15 || !b.DropPathScaleByKeep {
			t.Errorf("timm block %d: rate %v rescale %v, want %v and rescale", i, b.DropPath, b.DropPathScaleByKeep, want)
		}
	}
}

// TestF0Blocks checks the block structure of DeepMind's F0 against the
// spec: mid = out/2 in groups of 128, stride in the first block of stages
// 1..3, pooled shortcut on strided blocks, plain conv shortcut on the
// channel change of stage 0, SE hidden out/2.
func TestF0Blocks(t *testing.T) {
	l := mustLayout(t, mustVariant(t, "f0"))
	widths := []int{256, 512, 1536, 1536}
	prev := 128
	for _, b := range l.Blocks {
		out := widths[b.Stage]
		wantStride := 1
		if b.Index == 0 && b.Stage > 0 {
			wantStride = 2
		}
		if b.In != prev || b.Out != out || b.Mid != out/2 || b.Groups != out/2/128 || b.Stride != wantStride {
			t.Errorf("%s: in %d out %d mid %d groups %d stride %d", b.Module, b.In, b.Out, b.Mid, b.Groups, b.Stride)
		}
		switch {
		case wantStride > 1:
			if b.Downsample == nil || b.Downsample.Pool == nil || *b.Downsample.Pool != (Pool{Kind: AvgPool, Kernel: 2, Stride: 2, Pad: PadSame}) {
				t.Errorf("%s: want a 2x2 SAME avg pool then conv shortcut, got %+v", b.Module, b.Downsample)
			}
		case b.In != b.Out:
			if b.Downsample == nil || b.Downsample.Pool != nil {
				t.Errorf("%s: want an unpooled conv shortcut, got %+v", b.Module, b.Downsample)
			}
		default:
			if b.Downsample != nil {
				t.Errorf("%s: want the identity shortcut, got %+v", b.Module, b.Downsample)
			}
		}
		if b.Conv2.Stride != wantStride || b.Conv2.Groups != b.Groups || b.Conv2.Kernel != 3 ||
			b.Conv2b == nil || b.Conv2b.Stride != 1 || b.Conv1.Kernel != 1 || b.Conv3.Kernel != 1 {
			t.Errorf("%s: conv geometry conv1 %+v conv2 %+v conv2b %+v conv3 %+v", b.Module, b.Conv1, b.Conv2, b.Conv2b, b.Conv3)
		}
		if b.AttnLast == nil || b.AttnLast.Hidden != out/2 || b.AttnLast.Channels != out || b.AttnLast.Gain != 2 || b.Attn != nil {
			t.Errorf("%s: SE %+v", b.Module, b.AttnLast)
		}
		if b.SkipGain == "" {
			t.Errorf("%s: no skip gain", b.Module)
		}
		prev = out
	}
	if l.FinalConv == nil || l.FinalConv.In != 1536 || l.FinalConv.Out != 3072 || l.NumFeatures != 3072 {
		t.Errorf("final conv %+v, num features %d", l.FinalConv, l.NumFeatures)
	}
	if l.Head.In != 3072 || l.Head.Classes != 1000 || l.Head.DropRate != 0.2 || l.Head.WeightStd != 0.01 {
		t.Errorf("head %+v", l.Head)
	}
	if l.Act != (Activation{Name: "gelu", Gamma: 1.7015043497085571, GeluApproximate: true}) {
		t.Errorf("act %+v", l.Act)
	}
	ws := WS{Mode: StdConvDeepMind, Eps: 1e-4, Gamma: 1}
	if l.Blocks[0].Conv1.WS != ws || l.Stem.Layers[0].Conv.WS != ws || l.FinalConv.WS != ws {
		t.Errorf("WS: block %+v stem %+v final %+v, want %+v", l.Blocks[0].Conv1.WS, l.Stem.Layers[0].Conv.WS, l.FinalConv.WS, ws)
	}
}

// TestGammaPlacement checks that gamma sits in the activation or in every
// WS conv, never both.
func TestGammaPlacement(t *testing.T) {
	cfg := loadSmall(t)
	gamma, _ := ActivationGamma("gelu")
	for _, inAct := range []bool{true, false} {
		cfg.GammaInAct = inAct
		l := mustLayout(t, cfg)
		wantAct, wantConv := gamma, 1.0
		if !inAct {
			wantAct, wantConv = 1, gamma
		}
		if l.Act.Gamma != wantAct || l.Act.GeluApproximate {
			t.Errorf("gamma_in_act=%v: act %+v", inAct, l.Act)
		}
		convs := []Conv{l.Stem.Layers[0].Conv, l.Blocks[0].Downsample.Conv, l.Blocks[0].Conv3, *l.FinalConv}
		for _, c := range convs {
			if c.WS != (WS{Mode: StdConvTimm, Eps: 1e-5, Gamma: wantConv}) {
				t.Errorf("gamma_in_act=%v: %s WS %+v", inAct, c.Module, c.WS)
			}
		}
	}
}

type stemWant struct {
	widths, strides []int
	kernel          int
	pool            bool
	stride          int
}

func TestStemTypes(t *testing.T) {
	tests := []struct {
		stemType string
		stemChs  int
		want     stemWant
	}{
		{"deep_quad", 128, stemWant{[]int{16, 32, 64, 128}, []int{2, 1, 1, 2}, 3, false, 4}},
		{"deep_quad", 192, stemWant{[]int{24, 48, 96, 192}, []int{2, 1, 1, 2}, 3, false, 4}},
		{"deepmind", 192, stemWant{[]int{16, 32, 64, 192}, []int{2, 1, 1, 2}, 3, false, 4}},
		{"deep", 64, stemWant{[]int{32, 32, 64}, []int{2, 1, 1}, 3, false, 2}},
		{"deep_tiered", 64, stemWant{[]int{24, 32, 64}, []int{2, 1, 1}, 3, false, 2}},
		{"deep_pool", 64, stemWant{[]int{32, 32, 64}, []int{2, 1, 1}, 3, true, 4}},
		{"3x3", 64, stemWant{[]int{64}, []int{2}, 3, false, 2}},
		{"3x3_pool", 64, stemWant{[]int{64}, []int{2}, 3, true, 4}},
		{"7x7", 64, stemWant{[]int{64}, []int{2}, 7, false, 2}},
		{"", 64, stemWant{[]int{64}, []int{2}, 7, false, 2}},
		{"7x7_pool", 64, stemWant{[]int{64}, []int{2}, 7, true, 4}},
	}
	for _, tc := range tests {
		cfg := loadSmall(t)
		cfg.StemType, cfg.StemChs = tc.stemType, tc.stemChs
		l := mustLayout(t, cfg)
		var got stemWant
		in := cfg.InChans
		for i, sl := range l.Stem.Layers {
			got.widths = append(got.widths, sl.Conv.Out)
			got.strides = append(got.strides, sl.Conv.Stride)
			got.kernel = sl.Conv.Kernel
			if sl.Conv.In != in || sl.ActAfter != (i < len(l.Stem.Layers)-1) {
				t.Errorf("%s: stem conv %d in %d act-after %v", tc.stemType, i, sl.Conv.In, sl.ActAfter)
			}
			in = sl.Conv.Out
		}
		got.pool = l.Stem.Pool != nil
		got.stride = l.Stem.Stride
		if !reflect.DeepEqual(got, tc.want) || l.Stem.Out != tc.stemChs {
			t.Errorf("%s/%d: got %+v out %d, want %+v", tc.stemType, tc.stemChs, got, l.Stem.Out, tc.want)
		}
		if got.pool && *l.Stem.Pool != (Pool{Kind: MaxPool, Kernel: 3, Stride: 2, Pad: PadSymmetric, PadSym: 1}) {
			t.Errorf("%s: pool %+v", tc.stemType, *l.Stem.Pool)
		}
		// timm strides stage 0 only behind a stride-2 stem.
		wantStage0 := 1
		if l.Stem.Stride == 2 {
			wantStage0 = 2
		}
		if l.Blocks[0].Stride != wantStage0 {
			t.Errorf("%s: stage 0 stride %d, want %d", tc.stemType, l.Blocks[0].Stride, wantStage0)
		}
	}
}

// TestSpatialSizes follows the fixture's spatial sizes: 32 -> stem 8x8 ->
// final 1x1, and 36 -> 18 -> 9 -> 5 -> 3 -> 2.
func TestSpatialSizes(t *testing.T) {
	l := mustLayout(t, loadSmall(t))
	tests := []struct {
		in     int
		blocks []int
		final  int
	}{
		{32, []int{8, 8, 4, 2, 2}, 1},
		{36, []int{9, 9, 5, 3, 3}, 2},
	}
	for _, tc := range tests {
		blocks, final := l.InputSizes(tc.in, tc.in)
		var got []int
		for _, b := range blocks {
			if b[0] != b[1] {
				t.Fatalf("non-square size %v", b)
			}
			got = append(got, b[0])
		}
		if !reflect.DeepEqual(got, tc.blocks) || final != [2]int{tc.final, tc.final} {
			t.Errorf("input %d: block inputs %v final %v, want %v %d", tc.in, got, final, tc.blocks, tc.final)
		}
	}
	// The stride-2 stem conv pads (0,1) on 36 and the 9 -> 5 transition pool
	// pads (0,1) and the strided conv (1,1).
	if p := l.Stem.Layers[0].Conv.Padding(36, 36); p != (Pad2D{0, 1, 0, 1}) {
		t.Errorf("stem conv1 padding on 36: %+v", p)
	}
	b := l.Blocks[1]
	if p := b.Downsample.Pool.Padding(9, 9); p != (Pad2D{0, 1, 0, 1}) {
		t.Errorf("transition pool padding on 9: %+v", p)
	}
	if p := b.Conv2.Padding(9, 9); p != (Pad2D{1, 1, 1, 1}) {
		t.Errorf("strided conv padding on 9: %+v", p)
	}
	if p := b.Conv2b.Padding(5, 5); p != (Pad2D{1, 1, 1, 1}) {
		t.Errorf("conv2b padding on 5: %+v", p)
	}
}

func TestSymmetricPadding(t *testing.T) {
	cfg := loadSmall(t)
	cfg.SamePadding = false
	cfg.StemType = "7x7_pool"
	cfg.StemChs = 64
	l := mustLayout(t, cfg)
	tests := []struct {
		name string
		conv Conv
		pad  int
		out  int
	}{
		{"7x7 s2", l.Stem.Layers[0].Conv, 3, 16},
		{"3x3 s2", l.Blocks[1].Conv2, 1, 4},
		{"3x3 s1", l.Blocks[0].Conv2, 1, 8},
		{"1x1", l.Blocks[0].Conv1, 0, 8},
	}
	sizes := map[string]int{"7x7 s2": 32, "3x3 s2": 8, "3x3 s1": 8, "1x1": 8}
	for _, tc := range tests {
		n := sizes[tc.name]
		if tc.conv.Pad != PadSymmetric || tc.conv.Padding(n, n) != (Pad2D{tc.pad, tc.pad, tc.pad, tc.pad}) {
			t.Errorf("%s: padding %v %+v, want %d each side", tc.name, tc.conv.Pad, tc.conv.Padding(n, n), tc.pad)
		}
		if oh, ow := tc.conv.OutputSize(n, n); oh != tc.out || ow != tc.out {
			t.Errorf("%s: output %dx%d on %d, want %d", tc.name, oh, ow, n, tc.out)
		}
	}
	if oh, _ := l.Stem.Pool.OutputSize(16, 16); oh != 8 {
		t.Errorf("stem max pool 16 -> %d, want 8", oh)
	}
	// The transition pool is the same SAME/ceil-mode pool in both modes.
	if oh, _ := l.Blocks[1].Downsample.Pool.OutputSize(9, 9); oh != 5 {
		t.Errorf("transition pool 9 -> %d, want 5", oh)
	}
}

// TestRegBlocks checks timm's RegNet-style options: bottleneck from the
// input width, ratio 1 in the very first block, SE on the bottleneck.
func TestRegBlocks(t *testing.T) {
	cfg := loadSmall(t)
	cfg.Reg = true
	cfg.BottleRatio = 2
	cfg.AttnRdRatio = 0.25
	l := mustLayout(t, cfg)
	for _, b := range l.Blocks {
		ratio := 2.0
		if b.Global == 0 {
			ratio = 1
		}
		wantMid := int(float64(b.In) * ratio)
		if b.Mid != wantMid || b.Attn == nil || b.AttnLast != nil || b.Attn.Channels != wantMid || b.Attn.Hidden != wantMid/4 {
			t.Errorf("%s: in %d mid %d (want %d) attn %+v attn_last %+v", b.Module, b.In, b.Mid, wantMid, b.Attn, b.AttnLast)
		}
		if b.Attn != nil && b.Attn.FC1Weight != b.Module+".attn.fc1.weight" {
			t.Errorf("%s: attn names %+v", b.Module, *b.Attn)
		}
	}
}

func TestNoFinalConvNoAttn(t *testing.T) {
	cfg := loadSmall(t)
	cfg.NumFeatures = 0
	cfg.AttnLayer = ""
	cfg.ExtraConv = false
	cfg.Skipinit = false
	l := mustLayout(t, cfg)
	if l.FinalConv != nil || l.NumFeatures != 256 || l.Head.In != 256 {
		t.Errorf("final conv %+v, features %d, head in %d", l.FinalConv, l.NumFeatures, l.Head.In)
	}
	for _, b := range l.Blocks {
		if b.Attn != nil || b.AttnLast != nil || b.Conv2b != nil || b.SkipGain != "" {
			t.Errorf("%s: unexpected optional parts %+v", b.Module, b)
		}
	}
}

func TestMACsErrors(t *testing.T) {
	l := mustLayout(t, loadSmall(t))
	for _, hw := range [][2]int{{0, 32}, {32, -1}} {
		if _, err := l.MACs(hw[0], hw[1]); err == nil {
			t.Errorf("MACs(%d, %d) accepted", hw[0], hw[1])
		}
	}
	// Any positive size works with SAME padding.
	if n, err := l.MACs(1, 1); err != nil || n <= 0 {
		t.Errorf("MACs(1, 1) = %d, %v", n, err)
	}
}

func TestVariantNames(t *testing.T) {
	names := Variants()
	if len(names) != 8+8+7 {
		t.Errorf("%d variants, want 23", len(names))
	}
	for _, bad := range []string{"f8", "f0++", "dm_nfnet_f7", "dm_nfnet_f0+", "F0", "", "f", "f10"} {
		if _, err := Variant(bad); err == nil {
			t.Errorf("Variant(%q) accepted", bad)
		}
		if _, _, err := VariantResolution(bad); err == nil {
			t.Errorf("VariantResolution(%q) accepted", bad)
		}
	}
	// Each call returns fresh slices.
	a := mustVariant(t, "f1")
	a.Depths[0] = 99
	if b := mustVariant(t, "f1"); b.Depths[0] != 2 {
		t.Error("Variant shares its slices between calls")
	}
	tr, te, err := VariantResolution("f3+")
	if err != nil || tr != 320 || te != 416 {
		t.Errorf("VariantResolution(f3+) = %d, %d, %v", tr, te, err)
	}
}
