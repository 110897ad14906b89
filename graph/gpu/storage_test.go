package gpu

import (
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// TestStorage: a kernel's 16-bit-capable operands pick its variant;
// absent ones do not count; a mix of types is an error naming the op.
func TestStorage(t *testing.T) {
	f32 := graph.Mem{Size: 8}
	f16 := graph.Mem{Size: 4, Type: graph.Float16}
	bf16 := graph.Mem{Size: 4, Type: graph.BFloat16}
	for _, c := range []struct {
		name string
		ms   []graph.Mem
		want kernels.DType
		err  bool
	}{
		{"none", nil, kernels.F32, false},
		{"f32", []graph.Mem{f32, f32}, kernels.F32, false},
		{"f16 with an absent operand", []graph.Mem{f16, {}, f16}, kernels.F16, false},
		{"bf16", []graph.Mem{bf16, bf16}, kernels.BF16, false},
		{"f16 and f32", []graph.Mem{f16, f32}, 0, true},
		{"f16 and bf16", []graph.Mem{f16, bf16}, 0, true},
	} {
		got, err := storage("test op", c.ms...)
		if (err != nil) != c.err || !c.err && got != c.want {
			t.Errorf("%s: %v, %v; want %v (error %v)", c.name, got, err, c.want, c.err)
		}
	}
}
