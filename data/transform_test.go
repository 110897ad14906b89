package data

import (
	"math"
	"testing"
)

// rgb8 builds an image from per-pixel (r, g, b) triples.
func rgb8(w, h int, f func(x, y int) [3]uint8) *RGB8 {
	m := &RGB8{}
	m.Resize(w, h)
	for y := range h {
		for x := range w {
			p := f(x, y)
			copy(m.Pix[3*(y*w+x):], p[:])
		}
	}
	return m
}

func TestEvalCropHand(t *testing.T) {
	// A 48×40 image at size 16: the short side 40 resized to 48 makes a
	// 16 px centre square of 40*16/48 = 13.33 source pixels.
	c := evalCrop(48, 40, 16)
	want := CropRect{(48 - 40.0/3) / 2, (40 - 40.0/3) / 2, 40.0 / 3, 40.0 / 3}
	if math.Abs(c.X-want.X)+math.Abs(c.Y-want.Y)+math.Abs(c.W-want.W)+math.Abs(c.H-want.H) > 1e-12 {
		t.Fatalf("evalCrop = %+v, want %+v", c, want)
	}
	// 48×48 at 16: the crop is exactly pixels 16..31, and a scale-1
	// resize copies them.
	src := rgb8(48, 48, func(x, y int) [3]uint8 { return [3]uint8{uint8(x), uint8(y), uint8(x + y)} })
	c = evalCrop(48, 48, 16)
	if c != (CropRect{16, 16, 16, 16}) {
		t.Fatalf("evalCrop(48, 48, 16) = %+v", c)
	}
	var rs resampler
	var out RGB8
	rs.resize(&out, src, c, 16, false)
	for y := range 16 {
		for x := range 16 {
			got := out.Pix[3*(y*16+x) : 3*(y*16+x)+3]
			if got[0] != uint8(x+16) || got[1] != uint8(y+16) || got[2] != uint8(x+y+32) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, [3]int{x + 16, y + 16, x + y + 32})
			}
		}
	}
}

func TestResizeHalfHand(t *testing.T) {
	// Halving an 8-wide row: output 0 is centred at source 1 with a
	// 2-pixel triangle, taps 0, 1, 2 (tap -1 is outside) with weights
	// 0.75, 0.75, 0.25 (/1.75); output 1 at source 3: taps 1..4 with
	// 0.25, 0.75, 0.75, 0.25 (/2).
	vals := []float64{0, 10, 20, 30, 40, 50, 60, 200}
	src := rgb8(8, 1, func(x, _ int) [3]uint8 { return [3]uint8{uint8(vals[x]), 0, 0} })
	var rs resampler
	var out RGB8
	rs.resize(&out, src, CropRect{0, 0, 8, 1}, 4, false)
	want := []float64{
		(0.75*0 + 0.75*10 + 0.25*20) / 1.75,
		(0.25*10 + 0.75*20 + 0.75*30 + 0.25*40) / 2,
		(0.25*30 + 0.75*40 + 0.75*50 + 0.25*60) / 2,
		(0.25*50 + 0.75*60 + 0.75*200) / 1.75,
	}
	// Vertically a 1-row source at 4 rows: every row equals the
	// horizontal result (the image's only row, weight 1).
	if out.W != 4 || out.H != 4 {
		t.Fatalf("out %dx%d", out.W, out.H)
	}
	for y := range 4 {
		for x, w := range want {
			if got := out.Pix[3*(y*4+x)]; got != uint8(math.Round(w)) {
				t.Errorf("(%d,%d) = %d, want %.2f rounded", x, y, got, w)
			}
		}
	}
	// Flipped: the same values mirrored.
	rs.resize(&out, src, CropRect{0, 0, 8, 1}, 4, true)
	for x, w := range want {
		if got := out.Pix[3*(3-x)]; got != uint8(math.Round(w)) {
			t.Errorf("flipped %d = %d, want %.2f", 3-x, got, w)
		}
	}
}

func TestRandomResizedCropHand(t *testing.T) {
	// A 1000×1 strip: no area in [80, 1000] with an aspect in [3/4, 4/3]
	// fits one row, so the fallback centres a 1×1 crop (the width
	// clamped to 4/3 of the height, rounded).
	var r rng
	r.seedAt(1, streamSample, 0, 0, 0)
	if c := randomResizedCrop(1000, 1, &r); c != (CropRect{499, 0, 1, 1}) {
		t.Fatalf("strip crop %+v, want {499 0 1 1}", c)
	}
	// On a square the crops stay inside with area and aspect in range.
	for i := range 2000 {
		r.seedAt(2, streamSample, 0, 0, uint64(i))
		c := randomResizedCrop(200, 150, &r)
		area, ratio := c.W*c.H/(200*150), c.W/c.H
		if c.X < 0 || c.Y < 0 || c.X+c.W > 200 || c.Y+c.H > 150 || area < 0.07 || area > 1.01 || ratio < 0.74 || ratio > 1.35 {
			t.Fatalf("crop %+v: area %.3f ratio %.3f", c, area, ratio)
		}
	}
}

func TestDCTDenom(t *testing.T) {
	for _, tc := range []struct {
		w, out, want int
	}{{1000, 100, 8}, {799, 100, 4}, {400, 100, 4}, {399, 100, 2}, {150, 100, 1}} {
		if got := dctDenom(CropRect{0, 0, float64(tc.w), float64(tc.w)}, tc.out); got != tc.want {
			t.Errorf("dctDenom(%d -> %d) = %d, want %d", tc.w, tc.out, got, tc.want)
		}
	}
}

func TestBatchGrid(t *testing.T) {
	b := &Batch{N: 3, C: 1, H: 1, W: 2, Images: []float32{0, 1, 0.5, 0.25, 1, 0}}
	m, err := BatchGrid(b, []float32{0.5}, []float32{0.5}, 2) // v*0.5+0.5
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounds().Dx() != 2*2+2 || m.Bounds().Dy() != 2*1+2 {
		t.Fatalf("grid %v", m.Bounds())
	}
	// Image 1 (second tile of the first row) pixel 0: 0.5*0.5+0.5 = 0.75.
	if got := m.Pix[m.PixOffset(4, 0)]; got != 191 {
		t.Errorf("tile 1 pixel 0 = %d, want 191 (0.75*255 rounded)", got)
	}
	// Image 2 starts the second row.
	if got := m.Pix[m.PixOffset(0, 3)]; got != 255 {
		t.Errorf("tile 2 pixel 0 = %d, want 255", got)
	}
}
