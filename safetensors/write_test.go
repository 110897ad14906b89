package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
	}{
		{"nothing", nil, nil},
		{"metadata only", nil, map[string]string{"format": "pt", "note": `quotes " and <tags> & ünïcode`}},
		{"f32 matrix", []Tensor{F32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, float32(math.Inf(-1))})}, nil},
		{"scalars", []Tensor{F32("loss", nil, []float32{2.3152878}), I64("step", []int{}, []int64{-7})}, nil},
		{"empty tensors", []Tensor{F32("e", []int{0, 4}, nil), I64("z", []int{3, 0}, []int64{})}, nil},
		{"mixed dtypes", []Tensor{
			{Name: "mask", DType: DTypeBool, Shape: []int{3}, Data: []byte{1, 0, 1}},
			{Name: "h", DType: DTypeF16, Shape: []int{1}, Data: []byte{0x00, 0x3c}},
			I64("labels", []int{4}, []int64{3, 1, 4, 1}),
			{Name: "u", DType: DTypeU8, Shape: []int{1}, Data: []byte{200}},
			F32("x", []int{1, 1, 1}, []float32{-0.5}),
			{Name: "d", DType: DTypeF64, Shape: []int{2}, Data: make([]byte, 16)},
			{Name: "b", DType: DTypeBF16, Shape: []int{3}, Data: []byte{0x80, 0x3f, 0, 0, 0, 0xc0}},
		}, map[string]string{"case": "small"}},
		{"awkward names", []Tensor{F32("a\"b\\c\n", []int{1}, []float32{1}), F32("", []int{1}, []float32{2}), F32("<é>", []int{1}, []float32{3})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, tt.tensors, tt.metadata); err != nil {
				t.Fatal(err)
			}
			f, err := Parse(buf.Bytes())
			if err != nil {
				t.Fatalf("Parse(Encode(...)): %v", err)
			}
			checkTensors(t, f, tt.tensors)
			if got := f.Metadata(); len(got) != len(tt.metadata) {
				t.Errorf("Metadata() = %v, want %v", got, tt.metadata)
			}
			for k, v := range tt.metadata {
				if got := f.Metadata()[k]; got != v {
					t.Errorf("Metadata()[%q] = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// checkTensors checks that f holds exactly tensors.
func checkTensors(t *testing.T, f *File, tensors []Tensor) {
	t.Helper()
	var names []string
	for _, want := range tensors {
		names = append(names, want.Name)
		info, ok := f.Info(want.Name)
		if !ok {
			t.Errorf("tensor %q missing", want.Name)
			continue
		}
		if info.DType != want.DType || len(info.Shape) != len(want.Shape) || !slices.Equal(info.Shape, want.Shape) && len(want.Shape) > 0 {
			t.Errorf("tensor %q: %s %v, want %s %v", want.Name, info.DType, info.Shape, want.DType, want.Shape)
		}
		got, err := f.Bytes(want.Name)
		if err != nil || !bytes.Equal(got, want.Data) {
			t.Errorf("tensor %q: bytes %x, %v; want %x", want.Name, got, err, want.Data)
		}
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Errorf("Names() = %q, want %q", got, names)
	}
}

// TestEncodeLayout checks the header padding and that every tensor is
// aligned to its element size.
func TestEncodeLayout(t *testing.T) {
	tensors := []Tensor{
		{Name: "a", DType: DTypeU8, Shape: []int{3}, Data: []byte{1, 2, 3}},
		{Name: "b", DType: DTypeF16, Shape: []int{1}, Data: []byte{0, 0}},
		F32("c", []int{1}, []float32{1}),
		I64("d", []int{1}, []int64{1}),
		{Name: "e", DType: DTypeI16, Shape: []int{3}, Data: make([]byte, 6)},
		{Name: "f", DType: DTypeF64, Shape: []int{}, Data: make([]byte, 8)},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(buf.Bytes())
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if info.Begin%int64(info.DType.Size()) != 0 {
			t.Errorf("tensor %q (%s) begins at %d, not aligned", name, info.DType, info.Begin)
		}
		order = append(order, name)
	}
	slices.SortFunc(order, func(a, b string) int {
		ia, _ := f.Info(a)
		ib, _ := f.Info(b)
		return int(ia.Begin - ib.Begin)
	})
	if want := []string{"d", "f", "c", "b", "e", "a"}; !slices.Equal(order, want) {
		t.Errorf("data order %q, want %q", order, want)
	}
	if !strings.HasPrefix(string(buf.Bytes()[8:]), `{"__metadata__":{"k":"v"},"d":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},`) {
		t.Errorf("unexpected header %q", buf.Bytes()[8:8+n])
	}
}

func TestEncodeInvalid(t *testing.T) {
	tests := []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
		want     string
		also     error
	}{
		{"too few values", []Tensor{F32("w", []int{2, 3}, []float32{1, 2})}, nil, `tensor "w": 8 bytes of data, but F32 [2 3] needs 24`, nil},
		{"too many values", []Tensor{I64("l", []int{}, []int64{1, 2})}, nil, `tensor "l": 16 bytes of data, but I64 [] needs 8`, nil},
		{"negative dim", []Tensor{F32("w", []int{-1, -2}, []float32{1, 2})}, nil, `tensor "w": shape [-1 -2] has negative dimension -1`, nil},
		{"overflow", []Tensor{F32("w", []int{math.MaxInt, math.MaxInt, math.MaxInt}, nil)}, nil, `holds more than 2^63 bytes`, nil},
		{"unknown dtype", []Tensor{{Name: "w", DType: "F8", Data: []byte{0}}}, nil, `tensor "w": dtype "F8"`, ErrUnknownDType},
		{"empty dtype", []Tensor{{Name: "w"}}, nil, `tensor "w": dtype ""`, ErrUnknownDType},
		{"duplicate", []Tensor{F32("w", nil, []float32{1}), I64("w", nil, []int64{1})}, nil, `tensor "w" given more than once`, nil},
		{"reserved name", []Tensor{F32("__metadata__", nil, []float32{1})}, nil, `tensor name "__metadata__" is reserved`, nil},
		{"bad UTF-8 name", []Tensor{F32("\xff", nil, []float32{1})}, nil, "not valid UTF-8", nil},
		{"bad UTF-8 metadata", nil, map[string]string{"k": "\xfe"}, `metadata "k": key or value is not valid UTF-8`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tt.tensors, tt.metadata)
			if !errors.Is(err, ErrInvalidTensor) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode error = %v, want ErrInvalidTensor mentioning %q", err, tt.want)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("error %v does not wrap %v", err, tt.also)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	err := Encode(&failWriter{left: 20}, []Tensor{F32("w", []int{100}, make([]float32, 100))}, nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Encode error = %v, want the writer's error", err)
	}
}

// dirEntries lists dir's names.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	v1 := []Tensor{F32("w", []int{2}, []float32{1, 2})}
	v2 := []Tensor{F32("w", []int{3}, []float32{4, 5, 6}), I64("step", nil, []int64{1})}

	if err := WriteFile(path, v1, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("new file: %v, %v; want mode 0644", st, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, v2, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file: %v, %v; want its mode 0600 kept", st, err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, f, v2)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"w.safetensors"}) {
		t.Errorf("directory holds %q, want only the file", got)
	}
}

// TestWriteFileAtomic checks that a failed WriteFile leaves what was at the
// path untouched and no temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	good := []Tensor{F32("w", []int{2}, []float32{1, 2})}
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string) // makes what is at path
		tensors []Tensor
		check   func(t *testing.T, path string) // checks it is untouched
		want    string
	}{
		{
			name: "invalid tensor over existing file",
			setup: func(t *testing.T, path string) {
				if err := WriteFile(path, good, nil); err != nil {
					t.Fatal(err)
				}
			},
			tensors: []Tensor{F32("w", []int{3}, []float32{1})},
			check: func(t *testing.T, path string) {
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				checkTensors(t, f, good)
			},
			want: `tensor "w": 4 bytes of data`,
		},
		{
			// The rename fails after the data is written and synced.
			name: "rename over a non-empty directory",
			setup: func(t *testing.T, path string) {
				if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			tensors: good,
			check: func(t *testing.T, path string) {
				if st, err := os.Stat(filepath.Join(path, "keep")); err != nil || !st.IsDir() {
					t.Errorf("directory at path changed: %v", err)
				}
			},
			want: "rename",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "w.safetensors")
			tt.setup(t, path)
			err := WriteFile(path, tt.tensors, nil)
			if err == nil {
				t.Fatal("WriteFile succeeded, want an error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s and mention %q", err, path, tt.want)
			}
			tt.check(t, path)
			if got := dirEntries(t, dir); !slices.Equal(got, []string{"w.safetensors"}) {
				t.Errorf("directory holds %q, want no temporary files", got)
			}
		})
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "w.safetensors")
	err := WriteFile(path, nil, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile error = %v, want ErrNotExist naming %s", err, path)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	tensors := []Tensor{F32("w", []int{2, 2}, []float32{1, 2, 3, 4}), I64("l", []int{1}, []int64{9})}
	if err := WriteFile(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && f.unmap == nil {
		t.Error("Open did not memory-map the file on linux")
	}
	checkTensors(t, f, tensors)
	got, shape, err := f.Float32s("w")
	if err != nil || !slices.Equal(got, []float32{1, 2, 3, 4}) || !slices.Equal(shape, []int{2, 2}) {
		t.Errorf("Float32s = %v, %v, %v", got, shape, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bytes("w"); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), path) {
		t.Errorf("Bytes after Close: %v, want ErrClosed naming the path", err)
	}

	tests := []struct {
		name  string
		setup func(path string) error
		want  error
	}{
		{"missing", func(string) error { return nil }, os.ErrNotExist},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o644) }, ErrMalformed},
		{"malformed", func(p string) error { return os.WriteFile(p, build(`{"x":1}`, nil), 0o644) }, ErrMalformed},
		{"truncated", func(p string) error {
			var buf bytes.Buffer
			if err := Encode(&buf, tensors, nil); err != nil {
				return err
			}
			return os.WriteFile(p, buf.Bytes()[:buf.Len()-1], 0o644)
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".safetensors")
			if err := tt.setup(p); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open error = %v, want %v naming %s", err, tt.want, p)
			}
		})
	}
}

// TestOpenNonRegular checks that Open reads what it cannot map (a pipe).
func TestOpenNonRegular(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a pipe path")
	}
	var buf bytes.Buffer
	tensors := []Tensor{F32("w", []int{3}, []float32{1, 2, 3})}
	if err := Encode(&buf, tensors, nil); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.Write(buf.Bytes())
		w.Close()
	}()
	defer r.Close()
	f, err := Open("/dev/fd/" + strconv.Itoa(int(r.Fd())))
	if err != nil {
		t.Skipf("cannot open a pipe by path here: %v", err)
	}
	defer f.Close()
	if f.unmap != nil {
		t.Error("a pipe was memory-mapped")
	}
	checkTensors(t, f, tensors)
}
