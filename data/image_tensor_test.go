package data

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gradient is a w x h RGBA image whose channels vary differently, so a
// swapped plane or a transposed axis shows.
func gradient(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{R: uint8(255 * x / max(w-1, 1)), G: uint8(255 * y / max(h-1, 1)), B: 40, A: 255})
		}
	}
	return m
}

// ImageTensor must give what LoadImageFolder and Normalize give for the
// same file: a model then sees at predict time what it trained on.
func TestImageTensorMatchesFolder(t *testing.T) {
	img := gradient(37, 23)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "a", "x.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, st := range []Stats{FashionMNISTStats, CIFAR10Stats} {
		c := len(st.Mean)
		ds, err := LoadImageFolder(dir, FolderOptions{Width: 12, Height: 10, Channels: c})
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Normalize(st); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, c*10*12)
		if err := ImageTensor(img, c, 10, 12, st.Mean, st.Std, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ds.Image(0)) {
			t.Errorf("%d channels: ImageTensor differs from LoadImageFolder+Normalize", c)
		}
	}
}

func TestImageTensorValues(t *testing.T) {
	// Same size: no resampling, so the values are exact.
	img := gradient(4, 3)
	x := make([]float32, 3*3*4)
	if err := ImageTensor(img, 3, 3, 4, []float32{0, 0, 0}, []float32{1, 1, 1}, x); err != nil {
		t.Fatal(err)
	}
	hw := 12
	at := func(c, y, xx int) float32 { return x[c*hw+y*4+xx] }
	if at(0, 0, 3) != 1 || at(0, 2, 0) != 0 || at(1, 2, 0) != 1 || at(1, 0, 3) != 0 || at(2, 1, 1) != unit[40] {
		t.Errorf("planes: R(0,3)=%v R(2,0)=%v G(2,0)=%v G(0,3)=%v B=%v", at(0, 0, 3), at(0, 2, 0), at(1, 2, 0), at(1, 0, 3), at(2, 1, 1))
	}

	// A uniform gray image normalised by its own value is all zeros.
	g := image.NewGray(image.Rect(5, 5, 50, 30)) // bounds need not start at 0
	for i := range g.Pix {
		g.Pix[i] = 51
	}
	y := make([]float32, 8*8)
	if err := ImageTensor(g, 1, 8, 8, []float32{unit[51]}, []float32{0.5}, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range y {
		if v < -1e-6 || v > 1e-6 {
			t.Fatalf("gray[%d] = %v, want 0", i, v)
		}
	}
}

func TestImageTensorErrors(t *testing.T) {
	img := gradient(4, 4)
	one, three := []float32{0.5}, []float32{0.5, 0.5, 0.5}
	for _, tc := range []struct {
		name      string
		img       image.Image
		c, h, w   int
		mean, std []float32
		dst       int
		want      string
	}{
		{"nil image", nil, 1, 2, 2, one, one, 4, "nil image"},
		{"channels", img, 2, 2, 2, one, one, 8, "2 channels"},
		{"size", img, 1, 0, 2, one, one, 0, "size 2x0"},
		{"stats", img, 3, 2, 2, one, one, 12, "1 means and 1 standard deviations for 3 channels"},
		{"zero std", img, 3, 2, 2, three, []float32{0.5, 0, 0.5}, 12, "channel 1"},
		{"dst", img, 3, 2, 2, three, three, 11, "dst has 11 values, want 3x2x2 = 12"},
		{"empty", image.NewRGBA(image.Rectangle{}), 1, 2, 2, one, one, 4, "empty image"},
	} {
		err := ImageTensor(tc.img, tc.c, tc.h, tc.w, tc.mean, tc.std, make([]float32, tc.dst))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
