package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// CIFAR-10 binary record layout: one label byte, then a 3×32×32 image,
// channel-major (all red, then green, then blue), rows top to bottom.
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
	cifarRecord = 1 + cifarPixels
)

// CIFAR10Classes are the CIFAR-10 class names in label order. Shared: copy
// before modifying.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// LoadCIFAR10 loads a split from dir, the extracted cifar-10-batches-bin
// folder: data_batch_1.bin .. data_batch_5.bin for Train, test_batch.bin
// for Test.
func LoadCIFAR10(dir string, split Split) (*Dataset, error) {
	var names []string
	switch split {
	case Train:
		for i := 1; i <= 5; i++ {
			names = append(names, fmt.Sprintf("data_batch_%d.bin", i))
		}
	case Test:
		names = []string{"test_batch.bin"}
	default:
		return nil, fmt.Errorf("data: unknown split %q", split)
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return ReadCIFAR10(paths...)
}

// ReadCIFAR10 loads and concatenates CIFAR-10 binary batch files as a
// 3×32×32 Dataset with intensities in [0, 1]. A file whose size is not a
// whole number of 3073-byte records, or that holds a label above 9, is
// rejected.
func ReadCIFAR10(paths ...string) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, errors.New("data: ReadCIFAR10 needs at least one file")
	}
	total := 0
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if err := checkCIFARSize(p, st.Size()); err != nil {
			return nil, err
		}
		total += int(st.Size() / cifarRecord)
	}
	ds := &Dataset{
		Images:  make([]float32, total*cifarPixels),
		Labels:  make([]int32, total),
		N:       total,
		C:       3,
		H:       cifarSide,
		W:       cifarSide,
		Classes: slices.Clone(CIFAR10Classes),
	}
	at := 0
	for _, p := range paths {
		n, err := readCIFARFile(p, ds, at)
		if err != nil {
			return nil, err
		}
		at += n
	}
	return ds, nil
}

func checkCIFARSize(path string, size int64) error {
	if size == 0 {
		return fileErr(path, ErrTruncated, "empty file, want records of %d bytes", cifarRecord)
	}
	if r := size % cifarRecord; r != 0 {
		return fileErr(path, ErrTruncated, "%d bytes is %d whole records of %d bytes plus %d", size, size/cifarRecord, cifarRecord, r)
	}
	return nil
}

// readCIFARFile streams the records of path into ds starting at sample at,
// re-checking the size on the open file, and returns the record count.
func readCIFARFile(path string, ds *Dataset, at int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	if err := checkCIFARSize(path, st.Size()); err != nil {
		return 0, err
	}
	n := int(st.Size() / cifarRecord)
	if at+n > ds.N {
		return 0, fileErr(path, ErrCount, "file grew while loading")
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var rec [cifarRecord]byte
	for i := range n {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return 0, fileErrWrap(path, ErrTruncated, err, "record %d of %d", i, n)
		}
		if rec[0] >= byte(len(CIFAR10Classes)) {
			return 0, fileErr(path, ErrLabel, "record %d has label %d, want 0..%d", i, rec[0], len(CIFAR10Classes)-1)
		}
		ds.Labels[at+i] = int32(rec[0])
		img := ds.Image(at + i)
		for j, v := range rec[1:] {
			img[j] = unit[v]
		}
	}
	return n, nil
}
