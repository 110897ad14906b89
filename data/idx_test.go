package data

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadIDX(t *testing.T) {
	raw := idxBytes([]uint32{2, 3}, []byte{0, 1, 2, 3, 4, 255})
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"raw", raw},
		{"gzip", gzipBytes(t, raw)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The name says nothing: gzip is detected by magic.
			p := writeFile(t, t.TempDir(), "file.bin", tc.content)
			got, err := ReadIDX(p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Dims, []int{2, 3}) || !slices.Equal(got.Data, []byte{0, 1, 2, 3, 4, 255}) {
				t.Fatalf("got dims %v data %v", got.Dims, got.Data)
			}
		})
	}
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	pix := make([]byte, 4*2*3)
	for i := range pix {
		pix[i] = byte(i * 10)
	}
	img := writeFile(t, dir, "img.gz", gzipBytes(t, idxBytes([]uint32{4, 2, 3}, pix)))
	lbl := writeFile(t, dir, "lbl", idxBytes([]uint32{4}, []byte{3, 0, 1, 3}))

	d, err := LoadIDX(img, lbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 4 || d.C != 1 || d.H != 2 || d.W != 3 {
		t.Fatalf("shape %dx%dx%dx%d", d.N, d.C, d.H, d.W)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Labels, []int32{3, 0, 1, 3}) || !slices.Equal(d.Classes, []string{"0", "1", "2", "3"}) {
		t.Fatalf("labels %v classes %v", d.Labels, d.Classes)
	}
	for i, v := range d.Images {
		if want := float32(pix[i]) / 255; v != want {
			t.Fatalf("pixel %d = %v, want %v", i, v, want)
		}
	}

	d, err = LoadIDX(img, lbl, FashionMNISTClasses)
	if err != nil {
		t.Fatal(err)
	}
	if d.NumClasses() != 10 || d.Classes[9] != "Ankle boot" {
		t.Fatalf("classes %v", d.Classes)
	}
}

// TestLoadIDXCorrupt builds one corrupt file per failure mode and checks
// the error's kind and that it names the file.
func TestLoadIDXCorrupt(t *testing.T) {
	goodImg := idxBytes([]uint32{3, 2, 2}, make([]byte, 12))
	goodLbl := idxBytes([]uint32{3}, []byte{0, 1, 2})
	gzImg := gzipBytes(t, goodImg)
	badCRC := slices.Clone(gzImg)
	badCRC[len(badCRC)-8] ^= 0xff // CRC-32 in the gzip trailer

	for _, tc := range []struct {
		name     string
		img, lbl []byte
		classes  []string
		kind     error
		culprit  string // "img" or "lbl"
	}{
		{"empty file", []byte{}, goodLbl, nil, ErrTruncated, "img"},
		{"short header", []byte{0, 0}, goodLbl, nil, ErrTruncated, "img"},
		{"bad magic", append([]byte{0x12, 0x34}, goodImg[2:]...), goodLbl, nil, ErrBadMagic, "img"},
		{"float element type", append([]byte{0, 0, 0x0d}, goodImg[3:]...), goodLbl, nil, ErrBadMagic, "img"},
		{"png instead of idx", []byte("\x89PNG\r\n\x1a\n...."), goodLbl, nil, ErrBadMagic, "img"},
		{"zero dims", []byte{0, 0, 8, 0}, goodLbl, nil, ErrDims, "img"},
		{"zero-length dim", idxBytes([]uint32{3, 0, 2}, nil), goodLbl, nil, ErrDims, "img"},
		{"dims cut short", goodImg[:9], goodLbl, nil, ErrTruncated, "img"},
		{"images 2-D", idxBytes([]uint32{3, 4}, make([]byte, 12)), goodLbl, nil, ErrDims, "img"},
		{"labels 2-D", goodImg, idxBytes([]uint32{3, 1}, []byte{0, 1, 2}), nil, ErrDims, "lbl"},
		{"count mismatch", goodImg, idxBytes([]uint32{2}, []byte{0, 1}), nil, ErrCount, "lbl"},
		{"label out of range", goodImg, idxBytes([]uint32{3}, []byte{0, 10, 2}), MNISTClasses, ErrLabel, "lbl"},
		{"truncated data", goodImg[:len(goodImg)-1], goodLbl, nil, ErrTruncated, "img"},
		{"truncated labels", goodImg, goodLbl[:len(goodLbl)-2], nil, ErrTruncated, "lbl"},
		{"trailing data", append(slices.Clone(goodImg), 7), goodLbl, nil, ErrDims, "img"},
		{"truncated gzip", gzImg[:len(gzImg)/2], goodLbl, nil, ErrTruncated, "img"},
		{"gzip bad checksum", badCRC, goodLbl, nil, ErrCorrupt, "img"},
		{"gzip bad header", []byte{0x1f, 0x8b, 0, 0}, goodLbl, nil, ErrCorrupt, "img"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := map[string]string{
				"img": writeFile(t, dir, "train-images-idx3-ubyte", tc.img),
				"lbl": writeFile(t, dir, "train-labels-idx1-ubyte", tc.lbl),
			}
			_, err := LoadIDX(paths["img"], paths["lbl"], tc.classes)
			wantFileErr(t, err, tc.kind, paths[tc.culprit])
		})
	}
}

// TestReadIDXHostileHeader: headers announcing huge data are refused from
// the file size, without allocating what they announce.
func TestReadIDXHostileHeader(t *testing.T) {
	huge := []uint32{0xffffffff, 0xffffffff, 0xffffffff}
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"raw huge", idxBytes(huge, make([]byte, 100))},
		{"raw 4GB", idxBytes([]uint32{1 << 16, 1 << 8, 1 << 8}, make([]byte, 100))},
		{"gzip huge", nil},
		// Within deflate's 1032:1 reach of the file size but not there:
		// the buffer grows only with the bytes that really inflate.
		{"gzip plausible but short", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := tc.content
			switch tc.name {
			case "gzip huge":
				content = gzipBytes(t, idxBytes(huge, make([]byte, 100)))
			case "gzip plausible but short":
				content = gzipBytes(t, idxBytes([]uint32{1000, 28, 28}, make([]byte, 1000)))
			}
			p := writeFile(t, t.TempDir(), "hostile", content)
			var err error
			maxAlloc(t, 4<<20, func() { _, err = ReadIDX(p) })
			wantFileErr(t, err, ErrTruncated, p)
		})
	}
}

func TestLoadMNISTDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "t10k-images-idx3-ubyte", idxBytes([]uint32{2, 1, 1}, []byte{0, 255}))
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gzipBytes(t, idxBytes([]uint32{2}, []byte{9, 4})))
	d, err := LoadMNIST(dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 2 || d.Labels[0] != 9 || d.Images[1] != 1 || d.Classes[4] != "4" {
		t.Fatalf("got %+v", d)
	}
	if _, err := LoadFashionMNIST(dir, Train); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing train files: got %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadMNIST(dir, "validation"); err == nil {
		t.Fatal("unknown split accepted")
	}
	if _, err := ReadIDX(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
}
