package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// IDX is the content of an idx file of unsigned bytes (element type 0x08),
// the format of MNIST and Fashion-MNIST: Dims from the header, outermost
// first, and the row-major Data whose length is their product.
type IDX struct {
	Dims []int
	Data []byte
}

const (
	idxUbyte   = 0x08
	idxMaxDims = 8
)

// ReadIDX reads an idx file, gzipped or not (detected by its magic, not its
// name). It rejects bad magic, unsupported element types, zero dimensions,
// headers announcing more data than the file can hold, truncated data and
// trailing bytes.
func ReadIDX(path string) (*IDX, error) { return readIDX(path, nil) }

// readIDX is ReadIDX with check, when not nil, run on the header's
// dimensions before any data is read: a header that cannot be what the
// caller wants fails before its data is inflated and allocated.
func readIDX(path string, check func(dims []int) error) (*IDX, error) {
	s, err := openSource(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()

	hdr, err := s.readFull(4, "idx magic")
	if err != nil {
		return nil, err
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fileErr(path, ErrBadMagic, "magic %#08x is not an idx header", binary.BigEndian.Uint32(hdr))
	}
	if hdr[2] != idxUbyte {
		return nil, fileErr(path, ErrBadMagic, "idx element type %#02x unsupported, want 0x08 (unsigned byte)", hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 || nd > idxMaxDims {
		return nil, fileErr(path, ErrDims, "idx header declares %d dimensions, want 1..%d", nd, idxMaxDims)
	}
	raw, err := s.readFull(int64(4*nd), "idx dimensions")
	if err != nil {
		return nil, err
	}
	dims := make([]int, nd)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		if dims[i] == 0 {
			return nil, fileErr(path, ErrDims, "idx dims %v: dimension %d is zero", dims, i)
		}
	}
	if check != nil {
		if err := check(dims); err != nil {
			return nil, err
		}
	}
	total := int64(1)
	for _, d := range dims {
		// Both factors are < 2^32 and total stays ≤ remaining(), so no overflow.
		if total > s.remaining()/int64(d) {
			return nil, fileErr(path, ErrTruncated, "idx dims %v need more bytes than the %d-byte file can hold", dims, s.size)
		}
		total *= int64(d)
	}
	what := fmt.Sprintf("idx data for dims %v", dims)
	data, err := s.readFull(total, what)
	if err != nil {
		return nil, err
	}
	if err := s.expectEOF(what); err != nil {
		return nil, err
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// LoadIDX loads an idx3 image file (N×rows×cols unsigned bytes) and the
// matching idx1 label file (N unsigned bytes) as a 1-channel Dataset with
// intensities scaled to [0, 1]. With classes nil the class names are "0",
// "1", ... up to the largest label; otherwise every label must index
// classes.
func LoadIDX(imagesPath, labelsPath string, classes []string) (*Dataset, error) {
	lbl, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(lbl.Dims) != 1 {
		return nil, fileErr(labelsPath, ErrDims, "labels have dims %v, want 1 dimension (N)", lbl.Dims)
	}
	img, err := readIDX(imagesPath, func(dims []int) error {
		if len(dims) != 3 {
			return fileErr(imagesPath, ErrDims, "images have dims %v, want 3 dimensions (N, rows, cols)", dims)
		}
		if dims[0] != lbl.Dims[0] {
			return fileErr(labelsPath, ErrCount, "%d labels for the %d images of %s", lbl.Dims[0], dims[0], imagesPath)
		}
		if err := CheckImageSize("idx images", dims[2], dims[1], 0); err != nil {
			return fileErrWrap(imagesPath, ErrDims, err, "images of %dx%d pixels", dims[1], dims[2])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n, h, w := img.Dims[0], img.Dims[1], img.Dims[2]
	if classes == nil {
		classes = classNames(int(slices.Max(lbl.Data)) + 1)
	}
	labels := make([]int32, n)
	for i, l := range lbl.Data {
		if int(l) >= len(classes) {
			return nil, fileErr(labelsPath, ErrLabel, "label %d of sample %d, want 0..%d", l, i, len(classes)-1)
		}
		labels[i] = int32(l)
	}
	return &Dataset{
		Images:  bytesToUnit(img.Data),
		Labels:  labels,
		N:       n,
		C:       1,
		H:       h,
		W:       w,
		Classes: slices.Clone(classes),
	}, nil
}

// bytesToUnit maps bytes to float32 intensities in [0, 1].
func bytesToUnit(b []byte) []float32 {
	out := make([]float32, len(b))
	for i, v := range b {
		out[i] = unit[v]
	}
	return out
}

var unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// Class names of the standard idx datasets, in label order. Shared: copy
// before modifying.
var (
	MNISTClasses        = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
)

// LoadMNIST loads the MNIST split from dir, which holds the standard files
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each optionally with a .gz suffix.
func LoadMNIST(dir string, split Split) (*Dataset, error) {
	return loadIDXDir(dir, split, MNISTClasses)
}

// LoadFashionMNIST loads the Fashion-MNIST split from dir (same file names
// as MNIST), e.g. /usr/share/datasets/fashion-mnist from Debian's
// dataset-fashion-mnist package.
func LoadFashionMNIST(dir string, split Split) (*Dataset, error) {
	return loadIDXDir(dir, split, FashionMNISTClasses)
}

func loadIDXDir(dir string, split Split, classes []string) (*Dataset, error) {
	var prefix string
	switch split {
	case Train:
		prefix = "train"
	case Test:
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("data: unknown split %q", split)
	}
	images, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labels, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	return LoadIDX(images, labels, classes)
}

// findFile returns dir/name.gz or dir/name, whichever exists.
func findFile(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("data: %w", err)
		}
	}
	return "", fmt.Errorf("data: neither %s nor %s.gz in %s: %w", name, name, dir, fs.ErrNotExist)
}
