package data

import (
	"math"
	"testing"

	"github.com/go-gl/mathgl/mgl32"
)

// refCropFlip is the definition CropFlip must implement: output (x, y)
// shows source (x', y) shifted by (dx, dy), x' = w-1-x when flipped, and
// fill outside.
func refCropFlip(src []float32, c, h, w, dx, dy int, flip bool, fill []float32) []float32 {
	out := make([]float32, c*h*w)
	for ch := range c {
		for y := range h {
			for x := range w {
				xs := x
				if flip {
					xs = w - 1 - x
				}
				xs, ys := xs+dx, y+dy
				v := fill[ch]
				if xs >= 0 && xs < w && ys >= 0 && ys < h {
					v = src[(ch*h+ys)*w+xs]
				}
				out[(ch*h+y)*w+x] = v
			}
		}
	}
	return out
}

func TestWarpCropFlip(t *testing.T) {
	const c, h, w = 2, 5, 7
	src := synthetic(1, c, h, w, 1).Images
	fill := []float32{-1, -2}
	for _, tc := range []struct {
		dx, dy int
		flip   bool
	}{
		{0, 0, false}, {0, 0, true}, {1, 0, false}, {-2, 0, true}, {0, 3, false},
		{2, -1, true}, {-4, -4, false}, {4, 4, true}, {7, 0, false}, {-7, 0, true},
		{0, 5, true}, {3, -2, true},
	} {
		m := CropFlip(w, tc.dx, tc.dy, tc.flip)
		if _, _, _, _, ok := gridMap(m); !ok {
			t.Fatalf("%+v: CropFlip map %v not recognised as a grid map", tc, m)
		}
		want := refCropFlip(src, c, h, w, tc.dx, tc.dy, tc.flip, fill)
		fast := make([]float32, len(src))
		Warp(fast, src, c, h, w, m, fill)
		slow := make([]float32, len(src))
		warpBilinear(slow, src, c, h, w, m, fill)
		for i := range want {
			if fast[i] != want[i] || slow[i] != want[i] {
				t.Fatalf("%+v: pixel %d: fast %v bilinear %v want %v", tc, i, fast[i], slow[i], want[i])
			}
		}
	}
}

func TestWarpBilinear(t *testing.T) {
	// 1×1×4 row 0, 1, 2, 3.
	src := []float32{0, 1, 2, 3}
	dst := make([]float32, 4)
	Warp(dst, src, 1, 1, 4, mgl32.Translate2D(0.5, 0), []float32{10})
	// The last output samples between pixel 3 and the fill beyond it.
	want := []float32{0.5, 1.5, 2.5, 6.5}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("half-pixel shift = %v, want %v", dst, want)
		}
	}

	// 90° rotation about the centre of a 3×3 image, sampled bilinearly
	// (cos(π/2) is not exactly 0 in float32): matches the exact rotation.
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	m := mgl32.Translate2D(1, 1).Mul3(mgl32.HomogRotate2D(math.Pi / 2)).Mul3(mgl32.Translate2D(-1, -1))
	if _, _, _, _, ok := gridMap(m); ok {
		t.Fatal("rotation taken for a grid map")
	}
	out := make([]float32, 9)
	Warp(out, img, 1, 3, 3, m, nil)
	// source = R·(x-1, y-1) + 1 with R = [[0 -1] [1 0]]: (x, y) ← (2-y, x).
	for y := range 3 {
		for x := range 3 {
			if got, want := out[y*3+x], img[x*3+(2-y)]; math.Abs(float64(got-want)) > 1e-5 {
				t.Fatalf("rotated (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

// TestAugmentDraws: every augmented sample is exactly the source under one
// of the allowed crops/flips, and all of them occur.
func TestAugmentDraws(t *testing.T) {
	const h, w, pad = 6, 6, 2
	src := synthetic(1, 1, h, w, 1).Images
	fill := []float32{-5}
	a := Augment{Pad: pad, HFlip: true}
	seen := map[[3]int]int{}
	var r rng
	out := make([]float32, len(src))
	for i := range 5000 {
		r.seedAt(3, streamSample, 0, 0, uint64(i))
		Warp(out, src, 1, h, w, a.draw(&r, w), fill)
		found := false
		for dx := -pad; dx <= pad && !found; dx++ {
			for dy := -pad; dy <= pad && !found; dy++ {
				for _, flip := range []bool{false, true} {
					ref := refCropFlip(src, 1, h, w, dx, dy, flip, fill)
					if equal(ref, out) {
						seen[[3]int{dx, dy, b2i(flip)}]++
						found = true
						break
					}
				}
			}
		}
		if !found {
			t.Fatalf("draw %d is no allowed crop/flip", i)
		}
	}
	if len(seen) != 5*5*2 {
		t.Fatalf("%d of 50 crop/flip combinations seen", len(seen))
	}
	for k, n := range seen {
		if n < 50 || n > 150 { // 100 expected each
			t.Fatalf("combination %v seen %d times of 5000", k, n)
		}
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
