package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func solid(w, h int, c color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

func pngBytes(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadImageFolder(t *testing.T) {
	dir := t.TempDir()
	red := color.RGBA{255, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}
	writeFile(t, dir, "dog/b.png", pngBytes(t, solid(20, 10, blue)))
	writeFile(t, dir, "dog/nested/c.PNG", pngBytes(t, solid(3, 3, blue)))
	writeFile(t, dir, "cat/a.jpg", jpegBytes(t, solid(16, 16, red)))
	writeFile(t, dir, "cat/notes.txt", []byte("not an image"))
	writeFile(t, dir, "cat/.hidden.png", []byte("ignored"))
	writeFile(t, dir, "README", []byte("not a class"))
	// Symlink farms: a linked image and a linked class folder.
	other := t.TempDir()
	writeFile(t, other, "elsewhere/e.png", pngBytes(t, solid(5, 5, red)))
	writeFile(t, other, "linked/f.png", pngBytes(t, solid(5, 5, red)))
	if err := os.Symlink(filepath.Join(other, "elsewhere/e.png"), filepath.Join(dir, "cat/e.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "linked"), filepath.Join(dir, "emu")); err != nil {
		t.Fatal(err)
	}

	d, err := LoadImageFolder(dir, FolderOptions{Width: 8, Height: 6})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.N != 5 || d.C != 3 || d.H != 6 || d.W != 8 {
		t.Fatalf("shape %dx%dx%dx%d", d.N, d.C, d.H, d.W)
	}
	if !slices.Equal(d.Classes, []string{"cat", "dog", "emu"}) || !slices.Equal(d.Labels, []int32{0, 0, 1, 1, 2}) {
		t.Fatalf("classes %v labels %v", d.Classes, d.Labels)
	}
	// Solid colours survive resizing (JPEG within a small tolerance).
	for i, want := range [][3]float32{{1, 0, 0}, {1, 0, 0}, {0, 0, 1}, {0, 0, 1}, {1, 0, 0}} {
		img := d.Image(i)
		for c := range 3 {
			for _, v := range img[c*48 : (c+1)*48] {
				if v < want[c]-0.02 || v > want[c]+0.02 {
					t.Fatalf("image %d channel %d value %v, want %v", i, c, v, want[c])
				}
			}
		}
	}

	g, err := LoadImageFolder(dir, FolderOptions{Width: 4, Height: 4, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g.C != 1 {
		t.Fatalf("gray: %d channels", g.C)
	}
	if v := g.Image(2)[0]; v < 0.10 || v > 0.13 { // luma of pure blue is 0.114
		t.Fatalf("gray blue = %v", v)
	}
}

func TestLoadImageFolderCenterCrop(t *testing.T) {
	// 40×20: red, green, blue bands of 10, 20 and 10 columns. The centred
	// square is the green band.
	m := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := range 40 {
			c := color.RGBA{0, 255, 0, 255}
			if x < 10 {
				c = color.RGBA{255, 0, 0, 255}
			} else if x >= 30 {
				c = color.RGBA{0, 0, 255, 255}
			}
			m.Set(x, y, c)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "only/x.png", pngBytes(t, m))
	d, err := LoadImageFolder(dir, FolderOptions{Width: 5, Height: 5, CenterCrop: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.Images {
		want := float32(0)
		if i/25 == 1 {
			want = 1
		}
		if v != want {
			t.Fatalf("value %d = %v, want %v (crop leaked outside the centre)", i, v, want)
		}
	}
	if r := centerAspect(image.Rect(0, 0, 10, 40), 2, 1); r != image.Rect(0, 17, 10, 22) {
		t.Fatalf("tall crop %v", r)
	}
}

// hugePNG is a valid PNG header declaring w×h pixels.
func hugePNG(t *testing.T, w, h uint32) []byte {
	b := pngBytes(t, solid(1, 1, color.White))
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestLoadImageFolderCorrupt(t *testing.T) {
	good := pngBytes(t, solid(4, 4, color.White))
	for _, tc := range []struct {
		name    string
		file    string // relative path of the culprit
		content []byte
		kind    error
	}{
		{"garbage png", "a/bad.png", []byte("definitely not a png"), ErrDecode},
		{"truncated png", "a/cut.png", good[:len(good)/2], ErrDecode},
		{"truncated jpeg", "a/cut.jpg", jpegBytes(t, solid(32, 32, color.White))[:200], ErrDecode},
		{"huge declared size", "a/huge.png", hugePNG(t, 1<<20, 1<<20), ErrDims},
		{"empty class", "b", nil, ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a/ok.png", good)
			var culprit string
			if tc.content == nil {
				culprit = writeFile(t, dir, tc.file+"/ignored.txt", []byte("x"))
				culprit = culprit[:len(culprit)-len("/ignored.txt")]
			} else {
				culprit = writeFile(t, dir, tc.file, tc.content)
			}
			var err error
			maxAlloc(t, 8<<20, func() { _, err = LoadImageFolder(dir, FolderOptions{Width: 4, Height: 4}) })
			wantFileErr(t, err, tc.kind, culprit)
		})
	}

	dir := t.TempDir()
	if _, err := LoadImageFolder(dir, FolderOptions{Width: 4, Height: 4}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("no classes: got %v", err)
	}
	for _, opt := range []FolderOptions{{}, {Width: 4, Height: 4, Channels: 2}} {
		if _, err := LoadImageFolder(dir, opt); err == nil {
			t.Fatalf("options %+v accepted", opt)
		}
	}
}
