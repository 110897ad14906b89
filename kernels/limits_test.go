package kernels

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLimitsMatchGLSL holds kernels/limits.go to the maxima the shaders
// declare their arrays with (shaders/include/limits.glsl): a host check
// against a stale maximum would let a plan overrun an array.
func TestLimitsMatchGLSL(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "shaders", "include", "limits.glsl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"MAX_REDUCE_LOCAL": maxReduceLocal,
		"CONV_MAX_TO":      convMaxTO, "CONV_MAX_TP": convMaxTP, "CONV_MAX_KWC": convMaxKWC, "CONV_MAX_NW": convMaxNW,
		"GEMM_SG_MAX_RG": gemmSGMaxRG, "GEMM_SG_MAX_CQ": gemmSGMaxCQ, "GEMM_SG_MAX_KQ": gemmSGMaxKQ,
		"GEMM_SG_MAX_ACC": gemmSGMaxAcc, "GEMM_SG_SHARED": gemmSGShared,
		"GEMM_TILED_MAX_TM": gemmTiledMaxTM, "GEMM_TILED_MAX_TN": gemmTiledMaxTN, "GEMM_TILED_SHARED": gemmTiledShared,
	}
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`const uint (\w+) = (\d+)u;`).FindAllStringSubmatch(string(src), -1) {
		v, _ := strconv.Atoi(m[2])
		got[m[1]] = v
	}
	for name, v := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("limits.glsl does not declare %s", name)
		} else if g != v {
			t.Errorf("%s: limits.glsl %d, kernels/limits.go %d", name, g, v)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("limits.glsl declares %s, which kernels/limits.go does not check", name)
		}
	}
}

// TestCheckSpec rejects specializations beyond the shaders' arrays with
// an error naming the shader and the constant, and accepts the tunings'.
func TestCheckSpec(t *testing.T) {
	cases := []struct {
		shader string
		spec   []uint32
		want   string // "" accepts
	}{
		{"conv2d_direct", []uint32{16, 32, 8, 0, 0, 7}, ""},
		{"conv2d_direct", []uint32{16, 33, 4, 0, 0, 0}, "TO = 33"},
		{"conv2d_direct", []uint32{16, 8, 9, 0, 0, 0}, "TP = 9"},
		{"conv2d_direct", []uint32{16, 8, 0, 0, 0, 0}, "TP is 0"},
		{"conv2d_direct", []uint32{16, 8, 4, 0, 0, 8}, "KWC = 8"},
		{"conv2d_direct", []uint32{16, 8, 4}, "constants 0..5"},
		{"conv2d_direct_shuf", []uint32{16, 32, 4, 0, 0, 0, 4}, ""},
		{"conv2d_direct_shuf", []uint32{16, 32, 4, 0, 0, 0, 2}, "ceil(TO/SG) = 16"},
		{"conv2d_filter_shuf", []uint32{8, 32, 4, 7, 8}, ""},
		{"conv2d_filter", []uint32{8, 32, 4, 9}, "KWC = 9"},
		{"reduce_rows", []uint32{256, 0, 0}, ""},
		{"reduce_rows", []uint32{512, 0, 0}, "workgroup size = 512"},
		{"ws", []uint32{1024}, "workgroup size = 1024"},
		{"gemm_sg", []uint32{8, 8, 8, 4, 2, 0, 0, 1, 1, 1}, ""},
		{"gemm_sg", []uint32{16, 8, 8, 4, 2, 0, 0, 1, 1, 1}, "WG*R*CQ = 4096"},
		{"gemm_sg", []uint32{16, 16, 8, 4, 2, 0, 0, 1, 1, 1}, "R*CQ = 512"},
		{"gemm_tiled", []uint32{16, 16, 8, 8, 8, 0, 0}, ""},
		{"gemm_tiled", []uint32{16, 16, 8, 8, 16, 0, 0}, "4112 shared floats"},
		{"gemm_tiled", []uint32{8, 8, 16, 4, 4, 0, 0}, "TM = 16"},
		{"copy", []uint32{4096}, ""}, // sizes nothing from specialization
	}
	for _, c := range cases {
		err := checkSpec(c.shader, c.spec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: %v", c.shader, c.spec, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.shader)):
			t.Errorf("%s %v: error %v, want one naming the shader and %q", c.shader, c.spec, err, c.want)
		}
	}
}
