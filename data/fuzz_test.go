package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The parsers a user's file reaches, fuzzed: none may panic or hang,
// every failure is a *FileError naming the file, and memory stays in
// proportion to what the bytes can hold. Each fuzz worker writes its
// inputs to one file of its own temporary directory (the parsers take
// paths, as users give them).

// fuzzFile writes b to the worker's input file and returns its path.
func fuzzFile(t *testing.T, dir string, b []byte) string {
	p := filepath.Join(dir, "input")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkFileError fails unless err is nil or a *FileError for path.
func checkFileError(t *testing.T, err error, path string) {
	t.Helper()
	var fe *FileError
	if err != nil && (!errors.As(err, &fe) || fe.Path != path) {
		t.Fatalf("error %v (%T) is not a FileError naming %s", err, err, path)
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes([]uint32{2, 3}, []byte{0, 1, 2, 3, 4, 255}))
	f.Add(gzipBytes(f, idxBytes([]uint32{4, 2, 2}, make([]byte, 16))))
	f.Add(gzipBytes(f, idxBytes([]uint32{1 << 20, 1 << 10}, make([]byte, 64))))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, dir, b)
		var got *IDX
		var err error
		alloc := allocatedBy(func() { got, err = ReadIDX(p) })
		checkFileError(t, err, p)
		// A gzip stream inflates at most maxDeflateRatio-fold.
		if limit := uint64(2*maxDeflateRatio*len(b) + 4<<20); alloc > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", alloc, len(b), limit)
		}
		if err == nil {
			n := 1
			for _, d := range got.Dims {
				n *= d
			}
			if n != len(got.Data) {
				t.Fatalf("dims %v hold %d bytes, data has %d", got.Dims, n, len(got.Data))
			}
		}
	})
}

func FuzzReadCIFAR10(f *testing.F) {
	rec := make([]byte, 2*cifarRecord)
	rec[cifarRecord] = 9
	f.Add(rec)
	f.Add(rec[:cifarRecord+5])
	f.Add([]byte{10})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, dir, b)
		ds, err := ReadCIFAR10(p)
		checkFileError(t, err, p)
		if err == nil {
			if ds.N*cifarRecord != len(b) {
				t.Fatalf("%d records from %d bytes", ds.N, len(b))
			}
			if err := ds.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// fuzzMaxPixels is the pixel cap of the image fuzz target: small, so a
// header claiming more is refused before decoding allocates it.
const fuzzMaxPixels = 1 << 16

func FuzzDecodeImage(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 5, 3))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var pb, jb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		f.Fatal(err)
	}
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(pb.Bytes())
	f.Add(jb.Bytes())
	f.Add(pb.Bytes()[:40])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, dir, b)
		var got image.Image
		var err error
		alloc := allocatedBy(func() { got, err = decodeImage(p, fuzzMaxPixels) })
		checkFileError(t, err, p)
		// 8 bytes per pixel at most (RGBA64), plus the decoders' tables.
		if limit := uint64(16*fuzzMaxPixels + 32*len(b) + 4<<20); alloc > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", alloc, len(b), limit)
		}
		if err == nil {
			if r := got.Bounds(); r.Dx()*r.Dy() > fuzzMaxPixels || r.Empty() {
				t.Fatalf("decoded %v past the cap of %d pixels", r, fuzzMaxPixels)
			}
		}
	})
}

// FuzzDecodeSample feeds arbitrary bytes to the streaming decoder
// (libjpeg-turbo in cgo builds) at every DCT scale: an error, never a
// panic, and never an image past the pixel cap.
func FuzzDecodeSample(f *testing.F) {
	f.Add(jpegBytes(f, ramp(20, 12, 7)), uint8(1))
	f.Add(pngBytes(f, solid(3, 5, color.White)), uint8(2))
	f.Add([]byte("\xff\xd8\xff\xe0 not much"), uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, d uint8) {
		var m RGB8
		const limit = 1 << 16
		w, h, err := decodeImage8(b, "fuzz.jpg", limit, []int{1, 2, 4, 8}[d%4], &m)
		if err == nil && (w*h > limit || m.W*m.H > limit || len(m.Pix) != 3*m.W*m.H) {
			t.Fatalf("decoded %dx%d (declared %dx%d, %d bytes) past the cap %d", m.W, m.H, w, h, len(m.Pix), limit)
		}
	})
}
