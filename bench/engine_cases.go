package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/shaders"
)

// rawPipeline is a pipeline of an embedded shader that kernels does not
// wrap (the references' own shaders).
func (s *scope) rawPipeline(name string, spec ...uint32) *engine.Pipeline {
	if s.err != nil {
		return nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		s.fail(err)
		return nil
	}
	p, err := s.env.Dev.Pipeline(&engine.Shader{Name: name, SPIRV: code}, spec...)
	if err != nil {
		s.fail(fmt.Errorf("pipeline %s: %w", name, err))
		return nil
	}
	return p
}

// engineCases: the references and the fixed costs.
func engineCases() []Case {
	return []Case{
		{Name: PeakName, Small: true, Run: peakFMA},
		{Name: CopyName, Small: true, Run: copy64MiB},
		{Name: "Dispatch/empty", Small: true, Run: dispatchEmpty},
		{Name: "Dispatch/submit", Small: true, Run: dispatchSubmit},
	}
}

// peakFMA is the device's fp32 compute ceiling: register-only vec4 FMAs
// over enough workgroups to fill every core.
func peakFMA(ctx context.Context, env *Env) (Result, error) {
	const local, iters = 64, 4096
	groups := 1024
	if env.Dev.Info().IsCPU() {
		groups = 64
	}
	s := newScope(env)
	defer s.close()
	pipe := s.rawPipeline("peak_fma", local)
	out := s.buffer("out", 4)
	push := binary.LittleEndian.AppendUint32(nil, iters)
	push = binary.LittleEndian.AppendUint32(push, math.Float32bits(0.999))
	push = binary.LittleEndian.AppendUint32(push, math.Float32bits(0.001))
	p := s.profiled("peak_fma", func(p *engine.Program) error {
		return p.Dispatch("fma", pipe, [3]uint32{uint32(groups), 1, 1}, push, out.Write())
	})
	t, err := s.gpuTime(ctx, p)
	return gflops(float64(groups*local)*iters*8*4*2, t, err)
}

// copy64MiB is the bandwidth reference: a 64 MiB device-to-device copy
// through the copy kernel (bytes read + written). It is not a ceiling: a
// kernel with fewer reads per write, or data left in cache, can exceed it.
func copy64MiB(ctx context.Context, env *Env) (Result, error) {
	n := 64 << 20 / 4
	s := newScope(env)
	defer s.close()
	src, dst := s.buffer("src", n), s.buffer("dst", n)
	p := s.profiled("copy", func(p *engine.Program) error { return env.Lib.Copy(p, dst, src) })
	t, err := s.gpuTime(ctx, p)
	return gbs(2*4*float64(n), t, err)
}

// dispatchEmpty is the GPU cost of an empty dispatch inside a recorded
// program: GPU time / dispatches.
func dispatchEmpty(ctx context.Context, env *Env) (Result, error) {
	const n = 500
	s := newScope(env)
	defer s.close()
	pipe := s.rawPipeline("empty")
	p := s.profiled("empty", func(p *engine.Program) error {
		for i := 0; i < n; i++ {
			if err := p.Dispatch("empty", pipe, [3]uint32{1, 1, 1}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	t, err := s.gpuTime(ctx, p)
	if err != nil {
		return Result{}, err
	}
	var r Result
	r.add(float64(t.Nanoseconds())/n/1e3, "us/dispatch")
	return r, nil
}

// dispatchSubmit is one submit + fence wait of a one-dispatch program, in
// host wall time.
func dispatchSubmit(ctx context.Context, env *Env) (Result, error) {
	s := newScope(env)
	defer s.close()
	pipe := s.rawPipeline("empty")
	p := s.program("submit", engine.ProgramOptions{}, func(p *engine.Program) error {
		return p.Dispatch("empty", pipe, [3]uint32{1, 1, 1}, nil)
	})
	if s.err != nil {
		return Result{}, s.err
	}
	if err := p.Run(ctx); err != nil {
		return Result{}, err
	}
	// At least 200 submits whatever the repetitions: a handful is
	// dominated by the driver's worker threads waking up.
	n := max(env.Reps, 200)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := p.Run(ctx); err != nil {
			return Result{}, err
		}
	}
	var r Result
	r.add(float64(time.Since(start).Nanoseconds())/float64(n)/1e3, "us/submit")
	return r, nil
}

// gemmCases: C = op(A)*op(B) in fp32, GFLOP/s = 2MNK / GPU time. 1024^3
// is the reference size; 1000^3 is not a multiple of any tile; the
// transposed cases are the linear layer's gradients.
func gemmCases() []Case {
	var cs []Case
	for _, c := range []struct {
		m, n, k    int
		transA, tB bool
		suffix     string
	}{
		{m: 1024, n: 1024, k: 1024},
		{m: 1000, n: 1000, k: 1000},
		{m: 256, n: 4096, k: 256},
		{m: 1024, n: 1024, k: 1024, transA: true, suffix: "/TA"},
		{m: 1024, n: 1024, k: 1024, tB: true, suffix: "/TB"},
	} {
		sh := kernels.GEMMShape{M: c.m, N: c.n, K: c.k, TransA: c.transA, TransB: c.tB}
		cs = append(cs, Case{
			Name:  fmt.Sprintf("SGEMM/%dx%dx%d%s", c.m, c.n, c.k, c.suffix),
			Small: c.m == 256,
			Run: func(ctx context.Context, env *Env) (Result, error) {
				s := newScope(env)
				defer s.close()
				a, b, out := s.buffer("a", sh.M*sh.K), s.buffer("b", sh.K*sh.N), s.buffer("c", sh.M*sh.N)
				p := s.profiled("sgemm", func(p *engine.Program) error { return env.Lib.GEMM(p, sh, 1, a, b, 0, out) })
				t, err := s.gpuTime(ctx, p)
				return gflops(2*float64(sh.M)*float64(sh.N)*float64(sh.K), t, err)
			},
		})
	}
	return cs
}
