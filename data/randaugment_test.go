package data

import (
	"slices"
	"testing"
)

// gray3 is a w×h image with r = g = b = v[y*w+x].
func gray3(w, h int, v ...uint8) *RGB8 {
	return rgb8(w, h, func(x, y int) [3]uint8 { p := v[y*w+x]; return [3]uint8{p, p, p} })
}

// red returns the red channel.
func red(m *RGB8) []uint8 {
	out := make([]uint8, m.W*m.H)
	for i := range out {
		out[i] = m.Pix[3*i]
	}
	return out
}

func TestRandAugmentOpsHand(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   int
		arg  float64
		in   []uint8 // 3×2, grey
		want []uint8
	}{
		{"invert", raInvert, 0, []uint8{0, 1, 100, 128, 254, 255}, []uint8{255, 254, 155, 127, 1, 0}},
		{"solarize 128", raSolarize, 128, []uint8{0, 127, 128, 200, 255, 10}, []uint8{0, 127, 127, 55, 0, 10}},
		{"posterize 2 bits", raPosterize, 2, []uint8{0, 63, 64, 130, 200, 255}, []uint8{0, 0, 64, 128, 192, 192}},
		{"solarize add 55", raSolarizeAdd, 55, []uint8{0, 100, 127, 128, 200, 255}, []uint8{55, 155, 182, 128, 200, 255}},
		// min 50, max 150: (v-50)*2.55, truncated.
		{"autocontrast", raAutoContrast, 0, []uint8{50, 100, 150, 75, 125, 60}, []uint8{0, 127, 255, 63, 191, 25}},
		// Histogram of 6 pixels: 10×2, 20×1, 30×3; step = (6-3)/255 = 0:
		// unchanged.
		{"equalize tiny", raEqualize, 0, []uint8{10, 10, 20, 30, 30, 30}, []uint8{10, 10, 20, 30, 30, 30}},
		// Brightness 0.5: v/2 truncated.
		{"brightness 0.5", raBrightness, 0.5, []uint8{0, 11, 100, 255, 3, 200}, []uint8{0, 5, 50, 127, 1, 100}},
		// Output x shows source x+1; the last column reads outside: 128.
		{"translate x +1", raTranslateX, 1, []uint8{1, 2, 3, 4, 5, 6}, []uint8{2, 3, 128, 5, 6, 128}},
		{"translate x -1", raTranslateX, -1, []uint8{1, 2, 3, 4, 5, 6}, []uint8{128, 1, 2, 128, 4, 5}},
		{"translate y +1", raTranslateY, 1, []uint8{1, 2, 3, 4, 5, 6}, []uint8{4, 5, 6, 128, 128, 128}},
		// Shear 1: output (x, y) shows source (x + y, y).
		{"shear x 1", raShearX, 1, []uint8{1, 2, 3, 4, 5, 6}, []uint8{1, 2, 3, 5, 6, 128}},
		// Contrast 0: every pixel the rounded mean 35.
		{"contrast 0", raContrast, 0, []uint8{10, 20, 30, 40, 50, 60}, []uint8{35, 35, 35, 35, 35, 35}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, tmp := gray3(3, 2, tc.in...), &RGB8{}
			raApply(tc.op, tc.arg, 0, 0, m, tmp)
			if got := red(m); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRandAugmentEqualizeHand(t *testing.T) {
	// 4×4 = 16 pixels: 0×4, 50×4, 100×4, 200×4. step = (16-4)/255 = 0 →
	// unchanged; with 300 pixels it equalizes. Use 16×16 = 256 pixels:
	// 0×64, 50×64, 100×64, 200×64: step = (256-64)/255 = 0. So 32×32:
	// 256 of each; step = (1024-256)/255 = 3; lut[v] = (1 + pixels below
	// v)/3: lut[0] = 0, lut[50] = 257/3 = 85, lut[100] = 513/3 = 171,
	// lut[200] = 769/3 = 256 -> 255.
	v := make([]uint8, 1024)
	for i := range v {
		v[i] = []uint8{0, 50, 100, 200}[i/256]
	}
	m := gray3(32, 32, v...)
	raApply(raEqualize, 0, 0, 0, m, &RGB8{})
	got := red(m)
	for i, want := range map[int]uint8{0: 0, 256: 85, 512: 171, 768: 255} {
		if got[i] != want {
			t.Errorf("equalized %d -> %d, want %d", v[i], got[i], want)
		}
	}
}

func TestRandAugmentSharpnessCutoutHand(t *testing.T) {
	// 3×3 with a bright centre: the smoothed centre is (5*90 + 8*0)/13 =
	// 34.6 -> 35; factor 0 gives it; the border stays.
	m := gray3(3, 3, 0, 0, 0, 0, 90, 0, 0, 0, 0)
	raApply(raSharpness, 0, 0, 0, m, &RGB8{})
	if got := red(m); !slices.Equal(got, []uint8{0, 0, 0, 0, 35, 0, 0, 0, 0}) {
		t.Errorf("sharpness 0: %v", got)
	}
	// Cutout of half-size 1 at (1, 1) greys the 2×2 block [0,2)×[0,2).
	m = gray3(3, 3, 9, 9, 9, 9, 9, 9, 9, 9, 9)
	raApply(raCutout, 1, 1, 1, m, &RGB8{})
	if got := red(m); !slices.Equal(got, []uint8{128, 128, 9, 128, 128, 9, 9, 9, 9}) {
		t.Errorf("cutout: %v", got)
	}
}

func TestRandAugmentDeterministic(t *testing.T) {
	ra := RandAugment{Layers: 4, Magnitude: 5}
	base := rgb8(20, 16, func(x, y int) [3]uint8 { return [3]uint8{uint8(x * 12), uint8(y * 15), uint8(x * y)} })
	run := func(seed uint64) []uint8 {
		m := &RGB8{W: base.W, H: base.H, Pix: slices.Clone(base.Pix)}
		var r rng
		r.seedAt(seed, streamSample, 0, 0, 0)
		ra.apply(m, &RGB8{}, &r)
		return m.Pix
	}
	if !slices.Equal(run(1), run(1)) {
		t.Fatal("same stream, different images")
	}
	differ := 0
	for s := range uint64(8) {
		if !slices.Equal(run(s), base.Pix) {
			differ++
		}
	}
	if differ < 6 {
		t.Errorf("only %d of 8 streams changed the image", differ)
	}
}
