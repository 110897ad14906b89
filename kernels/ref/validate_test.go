package ref

import (
	"strings"
	"testing"
)

type validator interface{ Validate() error }

// TestValidateRejects checks that every bad shape is rejected with an error
// that names the op and prints the shape.
func TestValidateRejects(t *testing.T) {
	conv := SameConv2DShape(2, 8, 9, 9, 16, 3, 1, 2)
	with := func(f func(*Conv2DShape)) Conv2DShape { s := conv; f(&s); return s }
	pool := AvgPoolSameShape(2, 3, 9, 9, 2, 2)
	withPool := func(f func(*PoolShape)) PoolShape { s := pool; f(&s); return s }
	cases := []struct {
		name    string
		v       validator
		op, why string
	}{
		{"conv N 0", with(func(s *Conv2DShape) { s.N = 0 }), "conv2d", "N, C, H, W must be positive"},
		{"conv C -1", with(func(s *Conv2DShape) { s.C = -1 }), "conv2d", "N, C, H, W must be positive"},
		{"conv H 0", with(func(s *Conv2DShape) { s.H = 0 }), "conv2d", "N, C, H, W must be positive"},
		{"conv W 0", with(func(s *Conv2DShape) { s.W = 0 }), "conv2d", "N, C, H, W must be positive"},
		{"conv O 0", with(func(s *Conv2DShape) { s.O = 0 }), "conv2d", "kernel sizes must be positive"},
		{"conv KH 0", with(func(s *Conv2DShape) { s.KH = 0 }), "conv2d", "kernel sizes must be positive"},
		{"conv KW -3", with(func(s *Conv2DShape) { s.KW = -3 }), "conv2d", "kernel sizes must be positive"},
		{"conv stride 0", with(func(s *Conv2DShape) { s.StrideH = 0 }), "conv2d", "strides must be positive"},
		{"conv stride W -1", with(func(s *Conv2DShape) { s.StrideW = -1 }), "conv2d", "strides must be positive"},
		{"conv negative pad", with(func(s *Conv2DShape) { s.PadRight = -1 }), "conv2d", "padding must not be negative"},
		{"conv groups 0", with(func(s *Conv2DShape) { s.Groups = 0 }), "conv2d", "groups must be positive"},
		{"conv C % groups", with(func(s *Conv2DShape) { s.Groups = 3; s.O = 15 }), "conv2d", "input channels 8 not divisible by groups 3"},
		{"conv O % groups", with(func(s *Conv2DShape) { s.O = 15 }), "conv2d", "output channels 15 not divisible by groups 2"},
		{"conv output empty", with(func(s *Conv2DShape) { s.KH = 12 }), "conv2d", "output size 0x9 is empty"},
		{"conv output empty W", with(func(s *Conv2DShape) { s.PadLeft, s.PadRight, s.KW = 0, 0, 10 }), "conv2d", "is empty"},

		{"pool N 0", withPool(func(s *PoolShape) { s.N = 0 }), "avgpool2d", "must be positive"},
		{"pool kernel 0", withPool(func(s *PoolShape) { s.KW = 0 }), "avgpool2d", "kernel sizes must be positive"},
		{"pool stride 0", withPool(func(s *PoolShape) { s.StrideH = 0 }), "avgpool2d", "strides must be positive"},
		{"pool negative pad", withPool(func(s *PoolShape) { s.PadTop = -1 }), "avgpool2d", "must not be negative"},
		{"pool pad >= kernel", withPool(func(s *PoolShape) { s.PadBottom = 2 }), "avgpool2d", "smaller than the kernel"},
		{"pool output empty", withPool(func(s *PoolShape) { s.H, s.PadBottom = 1, 0 }), "avgpool2d", "is empty"},
		{"pool ceil mode H < k", CeilModePoolShape(1, 1, 1, 5, 3, 2), "avgpool2d", "is empty"},

		{"gemm M 0", GEMMShape{M: 0, N: 1, K: 1}, "gemm", "M, N, K must be positive"},
		{"gemm K -1", GEMMShape{M: 1, N: 1, K: -1}, "gemm", "M, N, K must be positive"},
		{"gemm negative ld", GEMMShape{M: 2, N: 2, K: 2, LDB: -1}, "gemm", "must not be negative"},
		{"gemm lda short", GEMMShape{M: 2, N: 3, K: 4, LDA: 3}, "gemm", "LDA 3 < stored row length 4"},
		{"gemm lda short trans", GEMMShape{M: 5, N: 3, K: 4, TransA: true, LDA: 4}, "gemm", "LDA 4 < stored row length 5"},
		{"gemm ldb short", GEMMShape{M: 2, N: 3, K: 4, LDB: 2}, "gemm", "LDB 2 < stored row length 3"},
		{"gemm ldb short trans", GEMMShape{M: 2, N: 3, K: 4, TransB: true, LDB: 3}, "gemm", "LDB 3 < stored row length 4"},
		{"gemm ldc short", GEMMShape{M: 2, N: 3, K: 4, LDC: 2}, "gemm", "LDC 2 < N 3"},

		{"linear In 0", LinearShape{N: 1, In: 0, Out: 1}, "linear", "must be positive"},
		{"linear N -1", LinearShape{N: -1, In: 1, Out: 1}, "linear", "must be positive"},
		{"ws O 0", WSShape{O: 0, FanIn: 3}, "weight standardization", "must be positive"},
		{"ws FanIn 0", WSShape{O: 3, FanIn: 0}, "weight standardization", "must be positive"},
		{"loss K 0", LossShape{N: 2, K: 0}, "softmax cross-entropy", "must be positive"},
		{"loss N 0", LossShape{N: 0, K: 2}, "softmax cross-entropy", "must be positive"},
		{"nchw C 0", NCHWShape{N: 1, C: 0, H: 1, W: 1}, "nchw shape", "must be positive"},
	}
	for _, c := range cases {
		err := c.v.Validate()
		if err == nil {
			t.Errorf("%s: %+v accepted", c.name, c.v)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, c.op+":") || !strings.Contains(msg, c.why) || !strings.Contains(msg, "{") {
			t.Errorf("%s: error %q, want op %q, reason %q and the shape", c.name, msg, c.op, c.why)
		}
	}
	// The good shapes pass.
	for _, v := range []validator{conv, pool, GEMMShape{M: 1, N: 1, K: 1}, LinearShape{1, 1, 1},
		WSShape{1, 1}, LossShape{1, 1}, NCHWShape{1, 1, 1, 1}, CeilModePoolShape(1, 1, 2, 5, 3, 2)} {
		if err := v.Validate(); err != nil {
			t.Errorf("%+v rejected: %v", v, err)
		}
	}
}

// TestKernelsPanicOnBadInput: kernels refuse bad shapes and wrong lengths,
// naming the op.
func TestKernelsPanicOnBadInput(t *testing.T) {
	s := NCHWShape{N: 2, C: 3, H: 1, W: 1}
	x := make([]float64, 6)
	mustPanic(t, "global avgpool: nchw shape", func() { GlobalAvgPool(NCHWShape{}, x, x) })
	mustPanic(t, "global avgpool: len(y) = 5, want 6", func() { GlobalAvgPool(s, x, x[:5]) })
	mustPanic(t, "se gate: len(z) = 5, want 6", func() { SEGate(s, 2, x[:5], x, x) })
	mustPanic(t, "residual: len(mask) = 1, want 2", func() { Residual(s, 0.2, 1, x, x, x[:1], x) })
	mustPanic(t, "avgpool2d: padding must be smaller", func() {
		AvgPool2D(PoolShape{N: 1, C: 1, H: 2, W: 2, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadTop: 1}, x[:4], make([]float64, 9))
	})
	mustPanic(t, "avgpool2d backward: len(dx) = 6, want 4", func() {
		AvgPool2DBackward(AvgPoolSameShape(1, 1, 2, 2, 2, 2), x[:1], x)
	})
	mustPanic(t, "ws deepmind: len(gain) = 6, want 2", func() { WSDeepMind(WSShape{O: 2, FanIn: 3}, x, x, x) })
	mustPanic(t, "linear: len(x) = 6, want 4", func() {
		Linear(LinearShape{N: 2, In: 2, Out: 3}, x, x, nil, x)
	})
	mustPanic(t, "activate gelu_erf: len(y) = 5, want 6", func() { Activate(ActGELUErf, 1, x, x[:5]) })
	mustPanic(t, "top1: len(labels) = 1, want 2", func() { Top1Correct(LossShape{2, 3}, x, []int{0}) })
}
