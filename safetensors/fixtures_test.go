package safetensors

import (
	"bufio"
	"bytes"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/internal/fixtures"
)

// fixture returns the path of a reference file made with timm; a missing
// one fails the test.
func fixture(t *testing.T, name string) string {
	t.Helper()
	return fixtures.Path(t, name)
}

func TestFixtureSmallIO(t *testing.T) {
	f, err := Open(fixture(t, "small_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	tests := []struct {
		name  string
		dtype DType
		shape []int
	}{
		{"input", DTypeF32, []int{4, 1, 32, 32}},
		{"labels", DTypeI64, []int{4}},
		{"logits", DTypeF32, []int{4, 10}},
		{"loss", DTypeF32, []int{}},
		{"input_odd", DTypeF32, []int{2, 1, 36, 36}},
		{"logits_odd", DTypeF32, []int{2, 10}},
		{"act/stem", DTypeF32, []int{4, 32, 8, 8}},
		{"act/final_act", DTypeF32, []int{4, 512, 1, 1}},
		{"act/head.global_pool", DTypeF32, []int{4, 512}},
	}
	for _, tt := range tests {
		info, ok := f.Info(tt.name)
		if !ok || info.DType != tt.dtype || !slices.Equal(info.Shape, tt.shape) {
			t.Errorf("Info(%q) = %+v, %v; want %s %v", tt.name, info, ok, tt.dtype, tt.shape)
		}
	}
	if n := f.Len(); n != 15 {
		t.Errorf("%d tensors, want 15: %q", n, f.Names())
	}

	loss, shape, err := f.Float32s("loss")
	if err != nil || len(loss) != 1 || len(shape) != 0 || math.Abs(float64(loss[0])-2.3152878) > 1e-6 {
		t.Errorf("loss = %v %v %v, want the scalar 2.3152878", loss, shape, err)
	}
	labels, _, err := f.Int64s("labels")
	if err != nil || len(labels) != 4 {
		t.Fatalf("labels = %v, %v", labels, err)
	}
	for _, l := range labels {
		if l < 0 || l >= 10 {
			t.Errorf("label %d outside [0, 10)", l)
		}
	}
	input, _, err := f.Float32s("input")
	if err != nil || len(input) != 4*32*32 {
		t.Fatalf("input: %d values, %v", len(input), err)
	}
	for i, v := range input {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("input[%d] = %v", i, v)
		}
	}
	if md := f.Metadata(); md["case"] != "small" || md["param_count"] != "810539" {
		t.Errorf("metadata = %v, want case small and param_count 810539", md)
	}
}

// TestFixtureSmallParams checks the parameter file against the shape list
// that came with it.
func TestFixtureSmallParams(t *testing.T) {
	f, err := Open(fixture(t, "small_params.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := os.Open(fixture(t, "small_param_shapes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer list.Close()

	var names []string
	total := 0
	sc := bufio.NewScanner(list)
	for sc.Scan() {
		name, dims, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad line %q", sc.Text())
		}
		var shape []int
		for d := range strings.SplitSeq(strings.Trim(dims, "[]"), ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			n, err := strconv.Atoi(d)
			if err != nil {
				t.Fatalf("bad line %q: %v", sc.Text(), err)
			}
			shape = append(shape, n)
		}
		names = append(names, name)
		info, ok := f.Info(name)
		if !ok || info.DType != DTypeF32 || len(info.Shape) != len(shape) || len(shape) > 0 && !slices.Equal(info.Shape, shape) {
			t.Errorf("Info(%q) = %+v, %v; want F32 %v", name, info, ok, shape)
		}
		total += info.NumElements()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Errorf("Names() has %d entries, the shape list %d", len(got), len(names))
	}
	if len(names) != 114 || total != 810539 {
		t.Errorf("%d tensors, %d parameters; want 114 and 810539", len(names), total)
	}
	if g, ok := f.Info("stages.0.0.skipinit_gain"); !ok || len(g.Shape) != 0 {
		t.Errorf("skipinit gain %+v, want a 0-d scalar", g)
	}
}

// TestFixturesReencode reads every reference file, checks that Open (mmap)
// and Parse (bytes in memory) agree, and that writing the tensors back out
// and reading them again changes nothing.
func TestFixturesReencode(t *testing.T) {
	for _, name := range []string{"small_io", "small_params", "small_grads", "small_step1", "small_step2"} {
		t.Run(name, func(t *testing.T) {
			path := fixture(t, name+".safetensors")
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			var tensors []Tensor
			for _, n := range f.Names() {
				info, _ := f.Info(n)
				b, err := f.Bytes(n)
				if err != nil {
					t.Fatal(err)
				}
				if b2, _ := g.Bytes(n); !bytes.Equal(b, b2) {
					t.Fatalf("tensor %q: Open and Parse disagree", n)
				}
				if info.DType == DTypeF32 {
					if _, _, err := f.Float32s(n); err != nil {
						t.Fatal(err)
					}
				}
				tensors = append(tensors, Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: b})
			}
			out := filepath.Join(t.TempDir(), name+".safetensors")
			if err := WriteFile(out, tensors, f.Metadata()); err != nil {
				t.Fatal(err)
			}
			h, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			checkTensors(t, h, tensors)
			if !maps.Equal(h.Metadata(), f.Metadata()) {
				t.Errorf("metadata changed: %v, want %v", h.Metadata(), f.Metadata())
			}
		})
	}
}
