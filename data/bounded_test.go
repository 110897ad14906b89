package data

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// allocatedBy returns the bytes f allocated on the heap.
func allocatedBy(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileGzipIsBounded: gzipped idx files of a few KB whose headers
// promise megabytes are refused having allocated little: a stream that
// ends early is inflated once without keeping its data, and an image
// file whose header does not match its labels is refused from the header.
func TestHostileGzipIsBounded(t *testing.T) {
	const rows, cols = 500, 500
	dir := t.TempDir()
	labels := writeFile(t, dir, "labels", idxBytes([]uint32{10}, make([]byte, 10)))
	// 8 of the 16 images the header declares: 2 MB inflated, of low
	// entropy so the file is small but could hold all 16 (zeros would
	// compress past the format's ratio and be refused from the size).
	r := rand.New(rand.NewPCG(1, 2))
	part := make([]byte, 8*rows*cols)
	for i := range part {
		part[i] = byte(r.IntN(4))
	}
	short := gzipBytes(t, idxBytes([]uint32{16, rows, cols}, part))
	short = short[:len(short)-8] // drop the trailer, as a truncated download does
	shortPath := writeFile(t, dir, "short.gz", short)
	// 40 complete images (10 MB) for 10 labels.
	many := writeFile(t, dir, "many.gz", gzipBytes(t, idxBytes([]uint32{40, rows, cols}, make([]byte, 40*rows*cols))))
	// 30000x30000 pixels per image, and a header only.
	huge := writeFile(t, dir, "huge.gz", gzipBytes(t, idxBytes([]uint32{10, 30000, 30000}, make([]byte, 1<<20))))
	cases := []struct {
		name string
		read func() error
		kind error
		msg  string
	}{
		{"truncated stream", func() error { _, err := ReadIDX(shortPath); return err }, ErrTruncated, "of 4000000 bytes"},
		{"count mismatch", func() error { _, err := LoadIDX(many, labels, nil); return err }, ErrCount, "10 labels for the 40 images"},
		{"pixel cap", func() error { _, err := LoadIDX(huge, labels, nil); return err }, ErrDims, "more than the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc := allocatedBy(func() { err = c.read() })
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %v, want %v saying %q", err, c.kind, c.msg)
			}
			if alloc > 1<<20 {
				t.Errorf("allocated %d KB to refuse it, want < 1 MB", alloc>>10)
			}
		})
	}
}

func TestCheckImageSize(t *testing.T) {
	for _, c := range []struct {
		w, h, pad int
		ok        bool
	}{
		{32, 32, 4, true},
		{8192, 8192, 0, true},
		{8192, 8192, 1, false},
		{100000, 100000, 0, false},
		{28, 28, 2000000000, false},
		{1 << 40, 1, 0, false},
		{0, 5, 0, false},
		{5, 5, -1, false},
	} {
		err := CheckImageSize("test", c.w, c.h, c.pad)
		if (err == nil) != c.ok {
			t.Errorf("CheckImageSize(%d, %d, %d): %v, want ok %v", c.w, c.h, c.pad, err, c.ok)
		}
	}
}
