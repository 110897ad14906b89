package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/nfvk/nfvk/internal/atomicfile"
)

// Tensor is one tensor to write: its raw little-endian bytes and how to
// read them. Encode checks that len(Data) == prod(Shape) * DType.Size().
type Tensor struct {
	Name  string
	DType DType
	Shape []int // nil or empty for a 0-d scalar
	Data  []byte
}

// F32 returns an F32 Tensor holding a little-endian copy of v. Encode
// rejects it unless len(v) == prod(shape).
func F32(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 0, 4*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(x))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: slices.Clone(shape), Data: data}
}

// I64 returns an I64 Tensor holding a little-endian copy of v. Encode
// rejects it unless len(v) == prod(shape).
func I64(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 0, 8*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint64(data, uint64(x))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: slices.Clone(shape), Data: data}
}

// layout is a validated plan for writing tensors: the header bytes, padded
// to a multiple of 8, and the tensors in data order.
type layout struct {
	header  []byte
	tensors []Tensor
}

// Encode writes tensors and metadata (which may be nil) to w in safetensors
// format. It validates everything before writing anything; an invalid input
// fails with an error wrapping ErrInvalidTensor.
//
// The data is laid out largest element size first, then by name, and the
// header is padded with spaces to a multiple of 8 bytes, so every tensor is
// aligned to its element size within the file (the reference
// implementation's layout). Metadata keys are written sorted.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	l, err := plan("", tensors, metadata)
	if err != nil {
		return err
	}
	if err := l.write(w); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

func (l *layout) write(w io.Writer) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(l.header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(l.header); err != nil {
		return err
	}
	for _, t := range l.tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// plan validates the inputs and builds the header. path, which may be
// empty, is only for error messages.
func plan(path string, tensors []Tensor, metadata map[string]string) (*layout, error) {
	invalid := func(format string, args ...any) error {
		return newError(path, ErrInvalidTensor, false, format, args...)
	}
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == metadataKey:
			return nil, invalid("tensor name %q is reserved", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, invalid("tensor name %q is not valid UTF-8", t.Name)
		case seen[t.Name]:
			return nil, invalid("tensor %q given more than once", t.Name)
		case !t.DType.Valid():
			return nil, fmt.Errorf("%s: tensor %q: dtype %q: %w: %w", where(path), t.Name, t.DType, ErrUnknownDType, ErrInvalidTensor)
		}
		seen[t.Name] = true
		for _, d := range t.Shape {
			if d < 0 {
				return nil, invalid("tensor %q: shape %v has negative dimension %d", t.Name, t.Shape, d)
			}
		}
		size, ok := byteSize(t.Shape, t.DType.Size())
		if !ok {
			return nil, invalid("tensor %q: %s %v holds more than 2^63 bytes", t.Name, t.DType, t.Shape)
		}
		if int64(len(t.Data)) != size {
			return nil, invalid("tensor %q: %d bytes of data, but %s %v needs %d",
				t.Name, len(t.Data), t.DType, t.Shape, size)
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, invalid("metadata %q: key or value is not valid UTF-8", k)
		}
	}

	ordered := slices.Clone(tensors)
	slices.SortFunc(ordered, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(b.DType.Size(), a.DType.Size()), cmp.Compare(a.Name, b.Name))
	})

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		h.WriteString(`"` + metadataKey + `":`)
		m, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return nil, invalid("metadata: %v", err)
		}
		h.Write(m)
	}
	var offset int64
	for i, t := range ordered {
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		h.Write(jsonString(t.Name))
		h.WriteString(`:{"dtype":`)
		h.Write(jsonString(string(t.DType)))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + int64(len(t.Data))
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, invalid("header of %d bytes exceeds the limit of %d", h.Len(), MaxHeaderSize)
	}
	return &layout{header: h.Bytes(), tensors: ordered}, nil
}

// jsonString quotes s as a JSON string (s is valid UTF-8).
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return b
}

// WriteFile writes tensors and metadata to path atomically: it validates
// the inputs, writes a temporary file in the same directory, syncs it to
// disk, renames it over path and syncs the directory. On any failure before
// the rename the temporary file is removed and whatever was at path is left
// untouched; if only the final directory sync fails, the new file is in
// place and the error says so.
// A new file gets mode 0644; a replaced file keeps its permission bits.
// If path is a symbolic link, the link itself is replaced.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	l, err := plan(path, tensors, metadata)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, l.write); err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}
