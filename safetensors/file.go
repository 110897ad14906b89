package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"slices"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header, in bytes, that Parse and Open
// accept and that Encode writes. It bounds the memory a hostile header
// length can make the parser allocate.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key of the free-form string map.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a File.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // nil or empty for a 0-d scalar
	// Begin and End are the tensor's byte offsets relative to the first
	// byte after the header, exactly as in the header's data_offsets.
	Begin, End int64
}

// NumElements returns the product of the shape: 1 for a 0-d scalar.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file. Its header has been fully validated,
// so every tensor it lists lies inside the data, with the size its dtype
// and shape imply, and no two tensors overlap.
//
// The methods that only read the header (Names, Info, Metadata) keep working
// after Close; those that return tensor data fail with ErrClosed.
// A File may be read from several goroutines at once, but Close must not
// run concurrently with any other method.
type File struct {
	path     string
	raw      []byte             // the whole file
	data     []byte             // raw after the header
	unmap    func([]byte) error // set when raw is memory-mapped
	tensors  map[string]TensorInfo
	names    []string // sorted
	metadata map[string]string
	closed   bool
}

// Open reads and validates the safetensors file at path. On platforms with
// mmap the file is mapped read-only rather than copied, so tensor data is
// paged in on first use; elsewhere, or when mapping fails, it is read into
// memory. Either way the caller must Close the File, and slices returned by
// Bytes must not be used after Close (for a mapped file that would fault).
// If the file is truncated by someone else while mapped, reading it may
// crash the program (SIGBUS); files are expected not to change while open.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err) // *PathError names path
	}
	defer fd.Close() // a mapping outlives its descriptor
	raw, unmap, err := load(fd)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: read: %w", path, err)
	}
	f, err := parse(path, raw)
	if err != nil {
		if unmap != nil {
			unmap(raw)
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// load maps fd into memory where it can, and otherwise reads it whole.
// unmap is nil when the bytes were read rather than mapped.
func load(fd *os.File) (raw []byte, unmap func([]byte) error, err error) {
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		raw, err = io.ReadAll(fd) // a pipe or device: size unknown
		return raw, nil, err
	}
	size := st.Size()
	if size > math.MaxInt {
		return nil, nil, fmt.Errorf("file of %d bytes is too large to address", size)
	}
	if size > 0 { // mmap of length 0 is an error
		if raw, err := mmap(fd, int(size)); err == nil {
			return raw, munmap, nil
		}
	}
	raw = make([]byte, size)
	if _, err := io.ReadFull(fd, raw); err != nil {
		return nil, nil, err
	}
	return raw, nil, nil
}

// Parse validates data as a complete safetensors file. It does not copy:
// the File's tensor views alias data, which must not be modified while the
// File is in use. Every error wraps ErrMalformed.
//
// Parse allocates memory in proportion to the header's actual length
// (at most MaxHeaderSize), never to lengths, offsets or shapes it claims.
func Parse(data []byte) (*File, error) {
	return parse("", data)
}

// parser carries what error messages and offset checks need.
type parser struct {
	path    string
	dataLen int64 // bytes after the header
}

func (p *parser) errorf(format string, args ...any) error {
	return newError(p.path, ErrMalformed, true, format, args...)
}

func parse(path string, raw []byte) (*File, error) {
	p := &parser{path: path}
	if len(raw) < 8 {
		return nil, p.errorf("file is %d bytes, shorter than the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw)
	if n > MaxHeaderSize {
		return nil, p.errorf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(raw)-8) {
		return nil, p.errorf("header length %d runs past the end of the %d-byte file", n, len(raw))
	}
	header, data := raw[8:8+n], raw[8+n:]
	p.dataLen = int64(len(data))

	infos, metadata, err := p.decodeHeader(header)
	if err != nil {
		return nil, err
	}
	if err := p.checkLayout(infos); err != nil {
		return nil, err
	}
	f := &File{
		path:     path,
		raw:      raw,
		data:     data,
		tensors:  make(map[string]TensorInfo, len(infos)),
		names:    make([]string, 0, len(infos)),
		metadata: metadata,
	}
	for _, t := range infos {
		f.tensors[t.Name] = t
		f.names = append(f.names, t.Name)
	}
	slices.Sort(f.names)
	return f, nil
}

// decodeHeader walks the header's top-level object token by token, which
// lets it reject duplicate names (a map decode would keep the last one) and
// trailing garbage, and decodes each entry on its own.
func (p *parser) decodeHeader(header []byte) ([]TensorInfo, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, p.errorf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, p.errorf("header is not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, p.errorf("header is not a JSON object (it starts with %v)", tok)
	}
	var (
		infos    []TensorInfo
		metadata map[string]string
		seen     = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, p.errorf("header is not valid JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok { // Token reports a syntax error first; this is a safety net
			return nil, nil, p.errorf("header is not valid JSON: object key %v is not a string", tok)
		}
		if seen[name] {
			return nil, nil, p.errorf("tensor %q appears more than once in the header", name)
		}
		seen[name] = true
		if name == metadataKey {
			if metadata, err = p.decodeMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		var fields map[string]json.RawMessage
		if err := dec.Decode(&fields); err != nil {
			if isSyntaxError(err) {
				return nil, nil, p.errorf("header is not valid JSON (at tensor %q): %v", name, err)
			}
			return nil, nil, p.errorf("tensor %q: entry is not a JSON object: %v", name, err)
		}
		if fields == nil {
			return nil, nil, p.errorf("tensor %q: entry is null, want a JSON object", name)
		}
		info, err := p.tensorInfo(name, fields)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, p.errorf("header is not valid JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, p.errorf("header has trailing data after its JSON object: %v", err)
		}
		return nil, nil, p.errorf("header has trailing data after its JSON object (%v)", tok)
	}
	return infos, metadata, nil
}

// decodeMetadata decodes the __metadata__ value: an object of strings, or
// null (no metadata).
func (p *parser) decodeMetadata(dec *json.Decoder) (map[string]string, error) {
	var m map[string]*string
	if err := dec.Decode(&m); err != nil {
		if isSyntaxError(err) {
			return nil, p.errorf("header is not valid JSON (at %s): %v", metadataKey, err)
		}
		return nil, p.errorf("%s is not an object of strings: %v", metadataKey, err)
	}
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v == nil {
			return nil, p.errorf("%s[%q] is null, want a string", metadataKey, k)
		}
		out[k] = *v
	}
	return out, nil
}

// isSyntaxError tells JSON that does not parse from JSON of the wrong shape.
func isSyntaxError(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tensorInfo validates one header entry on its own: the layout checks that
// involve several tensors are in checkLayout. Unknown keys are ignored, as
// the reference implementation does.
func (p *parser) tensorInfo(name string, fields map[string]json.RawMessage) (TensorInfo, error) {
	info := TensorInfo{Name: name}

	raw, ok := fields["dtype"]
	if !ok {
		return info, p.errorf("tensor %q: missing \"dtype\"", name)
	}
	var dtype string
	if bytes.Equal(raw, []byte("null")) || json.Unmarshal(raw, &dtype) != nil {
		return info, p.errorf("tensor %q: \"dtype\" is %s, want a string", name, excerpt(raw))
	}
	info.DType = DType(dtype)
	if !info.DType.Valid() {
		return info, newError(p.path, ErrUnknownDType, true, "tensor %q: dtype %q", name, dtype)
	}

	dims, err := p.ints(name, "shape", fields)
	if err != nil {
		return info, err
	}
	info.Shape = make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > math.MaxInt {
			return info, p.errorf("tensor %q: shape %v has invalid dimension %d", name, dims, d)
		}
		info.Shape[i] = int(d)
	}

	offsets, err := p.ints(name, "data_offsets", fields)
	if err != nil {
		return info, err
	}
	if len(offsets) != 2 {
		return info, p.errorf("tensor %q: \"data_offsets\" has %d values, want 2 (begin, end)", name, len(offsets))
	}
	info.Begin, info.End = offsets[0], offsets[1]
	switch {
	case info.Begin < 0 || info.End < 0:
		return info, p.errorf("tensor %q: negative data_offsets [%d, %d]", name, info.Begin, info.End)
	case info.Begin > info.End:
		return info, p.errorf("tensor %q: data_offsets begin %d is after end %d", name, info.Begin, info.End)
	case info.End > p.dataLen:
		return info, p.errorf("tensor %q: data_offsets end %d lies beyond the %d bytes of data", name, info.End, p.dataLen)
	}

	size, ok := byteSize(info.Shape, info.DType.Size())
	if !ok {
		return info, p.errorf("tensor %q: %s %v holds more than 2^63 bytes", name, info.DType, info.Shape)
	}
	if size != info.End-info.Begin {
		return info, p.errorf("tensor %q: data_offsets [%d, %d] hold %d bytes, but %s %v needs %d",
			name, info.Begin, info.End, info.End-info.Begin, info.DType, info.Shape, size)
	}
	return info, nil
}

// ints decodes fields[key] as a JSON array of integers that fit in int64.
func (p *parser) ints(name, key string, fields map[string]json.RawMessage) ([]int64, error) {
	raw, ok := fields[key]
	if !ok {
		return nil, p.errorf("tensor %q: missing %q", name, key)
	}
	var v []int64
	if bytes.Equal(raw, []byte("null")) || json.Unmarshal(raw, &v) != nil {
		return nil, p.errorf("tensor %q: %q is %s, want an array of integers", name, key, excerpt(raw))
	}
	return v, nil
}

// checkLayout checks that the tensors tile the data exactly: no overlaps,
// no gaps, no trailing bytes (as the reference implementation requires).
func (p *parser) checkLayout(infos []TensorInfo) error {
	sorted := slices.Clone(infos)
	slices.SortFunc(sorted, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	})
	var next int64 // where the next tensor must begin
	for i, t := range sorted {
		switch {
		case t.Begin < next:
			prev := sorted[i-1]
			return p.errorf("tensors %q [%d, %d] and %q [%d, %d] overlap",
				prev.Name, prev.Begin, prev.End, t.Name, t.Begin, t.End)
		case t.Begin > next:
			return p.errorf("%d unused bytes at data offset %d, before tensor %q", t.Begin-next, next, t.Name)
		}
		next = t.End
	}
	if next != p.dataLen {
		return p.errorf("%d bytes of trailing data after the last tensor (data ends at %d, tensors at %d)",
			p.dataLen-next, p.dataLen, next)
	}
	return nil
}

// byteSize returns prod(shape)*elemSize, or false if that overflows int64.
// A zero dimension makes the product zero whatever the others are.
func byteSize(shape []int, elemSize int) (int64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := uint64(elemSize)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// excerpt shortens a JSON value for an error message.
func excerpt(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// Close releases the file's memory mapping, if any. Slices returned by Bytes
// must not be used afterwards. Close is idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	raw, unmap := f.raw, f.unmap
	f.raw, f.data, f.unmap = nil, nil, nil
	if unmap != nil {
		if err := unmap(raw); err != nil {
			return fmt.Errorf("%s: unmap: %w", where(f.path), err)
		}
	}
	return nil
}

// Names returns the tensor names in sorted order. The slice is the
// caller's to keep.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Info returns the description of the named tensor, with a Shape the
// caller may modify.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	t.Shape = slices.Clone(t.Shape)
	return t, ok
}

// Metadata returns a copy of the header's __metadata__ map, or nil if the
// file has none.
func (f *File) Metadata() map[string]string { return maps.Clone(f.metadata) }

// Bytes returns the named tensor's raw little-endian bytes. The slice is a
// view of the file (of its memory mapping after Open): it must not be
// modified, and must not be used after Close.
func (f *File) Bytes(name string) ([]byte, error) {
	_, b, err := f.view(name)
	return b, err
}

// view looks a tensor up and returns its info and bytes.
func (f *File) view(name string) (TensorInfo, []byte, error) {
	t, ok := f.tensors[name]
	if !ok {
		return t, nil, fmt.Errorf("%s: tensor %q: %w", where(f.path), name, ErrNotFound)
	}
	if f.closed {
		return t, nil, fmt.Errorf("%s: tensor %q: %w", where(f.path), name, ErrClosed)
	}
	return t, f.data[t.Begin:t.End:t.End], nil
}

// errDType reports that tensor t cannot be converted to the Go type want.
func (f *File) errDType(t TensorInfo, want string) error {
	return fmt.Errorf("%s: tensor %q: cannot convert %s to %s: %w", where(f.path), t.Name, t.DType, want, ErrDType)
}
