package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// convNet is a graph of the ops whose GPU kernels exist in every test
// run: WS (both formulas), dense and grouped convs with bias, GELU and
// SiLU with gamma, dropout, scales folded into an activation and into the
// residual, drop path fused into the residual, and
// x used three times (the residual shortcut, the add and the conv), so
// its gradient accumulates. Its backward is the VJP of out against a fed
// cotangent dy.
type convNet struct {
	b         *builder
	x, dy     *Tensor
	out       *Tensor
	xs, grads []*Tensor // params then x, and their gradients
}

func newConvNet(t testing.TB, n int) *convNet {
	b := newBuilder()
	g := b.g
	x := b.t(g.Input("x", Shape{n, 4, 8, 8}))
	dy := b.t(g.Input("dy", Shape{n, 4, 8, 8}))
	h := b.wsConv("c1", x, 8, 3, 1, 1)
	h = b.t(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	h = b.t(g.Dropout(h, 0.25))
	w2 := b.param("c2.w", Shape{4, 4, 3, 3}, 0, 1)
	g2 := b.param("c2.gain", Shape{4, 1, 1, 1}, 1, 0.1)
	b2 := b.param("c2.b", Shape{4}, 0, 0.1)
	h = b.t(g.Conv2D(h, b.t(g.WS(w2, g2, WSOpts{Formula: WSTimm})), b2, ConvOpts{Groups: 2, Pad: [4]int{1, 1, 1, 1}}))
	h = b.t(g.Act(h, ref.ActSiLU, ref.GammaSiLU))
	h = b.t(g.Scale(h, 0.9)) // folds into the activation's gamma
	h = b.t(g.Dropout(h, 0.1))
	h = b.t(g.Scale(h, 2)) // folds into the residual's alpha
	h = b.t(g.DropPath(h, 0.5))
	skip := b.param("skip_gain", Shape{1}, 0.7, 0)
	out := b.t(g.Residual(x, h, skip, 0.2))
	out = b.t(g.Add(out, x))
	must(t, b.err)
	g.Keep(out)
	xs := append(append([]*Tensor(nil), b.params...), x)
	grads, err := g.VJP([]*Tensor{out}, []*Tensor{dy}, xs)
	must(t, err)
	g.Keep(grads[len(grads)-1]) // dx is an activation gradient: keep it to read it
	return &convNet{b: b, x: x, dy: dy, out: out, xs: xs, grads: grads}
}

// TestGPUMatchesCPU runs forward and backward graphs on the GPU and on
// the float32 CPU executor and compares every kept output and gradient.
// The references accumulate in float64 and round once; the GPU
// accumulates in float32 over fan-ins of at most a few hundred and chains
// of tens of ops, so each result must agree within 1e-4 relative plus
// 2e-5 of the tensor's largest magnitude (float32's epsilon is 1.2e-7: a
// few hundred ulps of slack for the chain, while a wrong index or a
// missing term is off by O(1)).
func TestGPUMatchesCPU(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	type net struct {
		b      *builder
		feeds  map[*Tensor][]float32
		checks map[string]*Tensor
	}
	vjp := func(t *testing.T, b *builder, out *Tensor, xs []*Tensor, feeds map[*Tensor][]float32) net {
		dy := b.t(b.g.Input("dy", out.Shape()))
		must(t, b.err)
		feeds[dy] = randn(8, dy.Size(), 1)
		grads, err := b.g.VJP([]*Tensor{out}, []*Tensor{dy}, xs)
		must(t, err)
		b.g.Keep(out)
		b.g.Keep(grads...)
		checks := map[string]*Tensor{"out": out}
		for i, d := range grads {
			if d == nil {
				t.Fatalf("no gradient for %v", xs[i])
			}
			checks["grad "+xs[i].Name()] = d
		}
		return net{b, feeds, checks}
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) net
	}{
		{"conv-ws-residual", func(t *testing.T) net {
			c := newConvNet(t, 3)
			checks := map[string]*Tensor{"out": c.out}
			for i, d := range c.grads {
				checks["grad "+c.xs[i].Name()] = d
			}
			return net{c.b, map[*Tensor][]float32{c.x: randn(7, c.x.Size(), 1), c.dy: randn(8, c.dy.Size(), 1)}, checks}
		}},
		// The NFNet of the finite-difference test up to its logits: stem,
		// a block, a transition block (avg-pool shortcut), SE with its
		// linears, drop path, dropout, head.
		{"small-nfnet-logits", func(t *testing.T) net {
			b, x, _, logits := smallNetLogits(4, 16, 10, 0.3, 0.2)
			must(t, b.err)
			return vjp(t, b, logits, append(append([]*Tensor(nil), b.params...), x), map[*Tensor][]float32{x: randn(7, x.Size(), 1)})
		}},
		// The whole training graph: the same network with label-smoothed
		// cross-entropy and the gradients of every parameter.
		{"small-nfnet-loss", func(t *testing.T) net {
			b, x, labels, loss := smallNet(4, 16, 10, 0.3, 0.2)
			must(t, b.err)
			grads, err := b.g.Gradients(loss, b.params)
			must(t, err)
			logits := loss.Node().Inputs()[0]
			correct, err := b.g.Top1Correct(logits, labels)
			must(t, err)
			b.g.Keep(correct)
			checks := map[string]*Tensor{"loss": loss, "top-1 correct": correct}
			for i, d := range grads {
				checks["grad "+b.params[i].Name()] = d
			}
			return net{b, map[*Tensor][]float32{x: randn(7, x.Size(), 1), labels: {3, 0, 9, 3}}, checks}
		}},
	} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				net := tc.build(t)
				gpu, err := Compile(ctx, k, net.b.g, CompileOptions{})
				must(t, err)
				defer gpu.Close()
				cpu := NewCPU[float32](net.b.g)
				for p, v := range net.b.init {
					must(t, cpu.Set(p, v))
					must(t, gpu.Write(p, v))
				}
				must(t, cpu.Run(ctx, seed, net.feeds))
				must(t, gpu.Step(ctx, seed, net.feeds))
				worst := 0.0
				for name, tt := range net.checks {
					got, err := gpu.Read(tt)
					must(t, err)
					want := cpu.Value(tt)
					m := maxAbs(want)
					assertClose(t, name, got, want, 2e-5*m, 1e-4)
					for i := range got {
						worst = max(worst, math.Abs(float64(got[i]-want[i]))/(m+1e-30))
					}
				}
				t.Logf("%d dispatches, %d barriers, arena %d B (naive %d B); worst error %.2g of the tensor's max", gpu.Program().Len(), gpu.Program().Barriers(), gpu.Plan().PeakBytes, gpu.Plan().NaiveBytes, worst)
			})
		}
	}
}

// TestCompileNoKernel: an op without a GPU kernel fails Compile with an
// error naming it; nothing falls back to the CPU.
func TestCompileNoKernel(t *testing.T) {
	k := testKernels(t)
	g := New()
	a, err := g.Input("a", Shape{4})
	must(t, err)
	y, err := g.Mul(a, a)
	must(t, err)
	g.Keep(y)
	_, err = Compile(context.Background(), k, g, CompileOptions{})
	if !errors.Is(err, ErrNoKernel) || !strings.Contains(err.Error(), "graph: op mul has no GPU kernel yet") {
		t.Fatalf("Compile = %v, want graph: op mul has no GPU kernel yet", err)
	}
}

// TestReplayMatchesFreshRecording: 50 SGD steps replaying one recorded
// program give bit-identical parameters to 50 steps each recorded afresh
// (new plan, buffers and command buffers), with a new batch, seed and
// learning rate (read from a buffer) every step.
func TestReplayMatchesFreshRecording(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const steps = 50
	// step is a training graph with its parameters and per-step feeds.
	type step struct {
		b      *builder
		params []*Tensor
		feeds  func(i int) map[*Tensor][]float32
	}
	for _, tc := range []struct {
		name  string
		build func() step
	}{
		// The conv net's VJP against a fed cotangent, SGD at a learning
		// rate read from a buffer.
		{"conv-net-sgd-rate", func() step {
			net := newConvNet(t, 2)
			params := net.xs[:len(net.xs)-1]
			lr, err := net.b.g.Input("lr", Shape{1})
			must(t, err)
			must(t, net.b.g.SGDRate(params, net.grads[:len(params)], lr))
			return step{net.b, params, func(i int) map[*Tensor][]float32 {
				return map[*Tensor][]float32{net.x: randn(uint64(100+i), net.x.Size(), 1), net.dy: randn(uint64(200+i), net.dy.Size(), 0.1),
					lr: {0.01 * float32(1+i%3)}}
			}}
		}},
		// The small NFNet's whole training step: loss, backward, SGD.
		{"small-nfnet-sgd", func() step {
			b, x, labels, loss := smallNet(4, 16, 10, 0.3, 0.2)
			must(t, b.err)
			grads, err := b.g.Gradients(loss, b.params)
			must(t, err)
			must(t, b.g.SGD(b.params, grads, 0.05))
			return step{b, b.params, func(i int) map[*Tensor][]float32 {
				return map[*Tensor][]float32{x: randn(uint64(100+i), x.Size(), 1), labels: {float32(i % 10), 3, 7, float32(i * 7 % 10)}}
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Replay: one compile, 50 steps.
			net := tc.build()
			gpu, err := Compile(ctx, k, net.b.g, CompileOptions{})
			must(t, err)
			defer gpu.Close()
			for p, v := range net.b.init {
				must(t, gpu.Write(p, v))
			}
			for i := 0; i < steps; i++ {
				must(t, gpu.Step(ctx, uint64(i), net.feeds(i)))
			}
			// Fresh: every step compiles and records its own program.
			fresh := tc.build()
			state := map[*Tensor][]float32{}
			for p, v := range fresh.b.init {
				state[p] = v
			}
			for i := 0; i < steps; i++ {
				x, err := Compile(ctx, k, fresh.b.g, CompileOptions{})
				must(t, err)
				for _, p := range fresh.params {
					must(t, x.Write(p, state[p]))
				}
				must(t, x.Step(ctx, uint64(i), fresh.feeds(i)))
				for _, p := range fresh.params {
					state[p], err = x.Read(p)
					must(t, err)
				}
				x.Close()
			}
			moved := 0.0
			for j, p := range net.params {
				got, err := gpu.Read(p)
				must(t, err)
				want := state[fresh.params[j]]
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v[%d]: replayed %v, freshly recorded %v", p, i, got[i], want[i])
					}
					moved = max(moved, math.Abs(float64(got[i]-net.b.init[p][i])))
				}
			}
			if moved == 0 {
				t.Fatal("SGD did not move any parameter")
			}
			t.Logf("parameters moved by up to %.3g; bit-identical after %d steps", moved, steps)
		})
	}
}

// TestCompileAfterHook: extra dispatches recorded through
// CompileOptions.After (how optimizers written as kernels plug in) run at
// the end of every step, on the persistent tensors' memory: an SGD update
// written in the hook gives bit for bit the built-in SGD's parameters.
func TestCompileAfterHook(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const lr, steps = 0.05, 3
	run := func(hook bool) map[string][]float32 {
		net := newConvNet(t, 2)
		params, grads := net.xs[:len(net.xs)-1], net.grads[:len(net.xs)-1]
		var o CompileOptions
		if hook {
			o.After = func(p *engine.Program, span func(*Tensor) (engine.Span, error)) error {
				for i, pt := range params {
					ps, err := span(pt)
					if err != nil {
						return err
					}
					gs, err := span(grads[i])
					if err != nil {
						return err
					}
					if err := k.Axpby(p, -lr, gs, 1, ps); err != nil {
						return err
					}
				}
				return nil
			}
		} else {
			must(t, net.b.g.SGD(params, grads, lr))
		}
		x, err := Compile(ctx, k, net.b.g, o)
		must(t, err)
		defer x.Close()
		for p, v := range net.b.init {
			must(t, x.Write(p, v))
		}
		for i := 0; i < steps; i++ {
			must(t, x.Step(ctx, uint64(i), map[*Tensor][]float32{net.x: randn(uint64(i), net.x.Size(), 1), net.dy: randn(uint64(50+i), net.dy.Size(), 1)}))
		}
		out := map[string][]float32{}
		for _, p := range params {
			out[p.Name()], err = x.Read(p)
			must(t, err)
		}
		return out
	}
	builtin, hooked := run(false), run(true)
	for name, want := range builtin {
		assertClose(t, name, hooked[name], want, 0, 0)
	}
}

// TestStepErrors: feeding a non-input, a wrong length, reading an arena
// tensor and a cancelled context are errors, not panics.
func TestStepErrors(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	net := newConvNet(t, 2)
	x, err := Compile(ctx, k, net.b.g, CompileOptions{})
	must(t, err)
	defer x.Close()
	p := net.b.params[0]
	mid := net.out.Node().Inputs()[0] // the residual's output: an arena tensor
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"feed a parameter", x.Step(ctx, 0, map[*Tensor][]float32{p: net.b.init[p]}), "graph: feed " + p.String() + ": a parameter, not an input"},
		{"wrong length", x.Step(ctx, 0, map[*Tensor][]float32{net.x: {1, 2}}), fmt.Sprintf("graph: write %v: 2 values, want %d", net.x, net.x.Size())},
		{"read arena", func() error { _, err := x.Read(mid); return err }(), fmt.Sprintf("graph: %v lives in the arena (Keep it to read it after a step)", mid)},
		{"cancelled", x.Step(cancelled, 0, nil), "context canceled"},
		{"cpu cancelled", NewCPU[float32](net.b.g).Run(cancelled, 0, nil), "context canceled"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, tc.err, tc.want)
		}
	}
}

// spans0 is the first span, or s when there is none.
func spans0(spans []engine.Span, s engine.Span) engine.Span {
	if len(spans) == 0 {
		return s
	}
	return spans[0]
}

// TestPooledPersistentTensors: parameters, gradients and optimizer state
// each share one buffer, at aligned, disjoint offsets, so the fused
// multi-tensor optimizer updates every parameter in one dispatch through
// the After hook; with momentum 0 and no clipping it matches the graph's
// own SGD.
func TestPooledPersistentTensors(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const lr, steps = 0.05, 3
	run := func(fused bool) (map[string][]float32, int) {
		net := newConvNet(t, 2)
		g := net.b.g
		params, grads := net.xs[:len(net.xs)-1], net.grads[:len(net.xs)-1]
		var o CompileOptions
		if fused {
			moms := make([]*Tensor, len(params))
			for i, p := range params {
				var err error
				moms[i], err = g.State("momentum/"+p.Name(), p.Shape())
				must(t, err)
			}
			hyper, err := k.Device().NewBuffer("hyper", kernels.HyperBytes)
			must(t, err)
			defer hyper.Free()
			must(t, kernels.WriteHyper(hyper.Span(), kernels.Hyper{LR: lr}))
			table, err := k.Device().NewBuffer("table", kernels.OptimTableBytes(len(params)))
			must(t, err)
			defer table.Free()
			o.After = func(p *engine.Program, span func(*Tensor) (engine.Span, error)) error {
				ts := make([]kernels.OptimTensor, len(params))
				for i, pt := range params {
					ts[i] = kernels.OptimTensor{Name: pt.Name(), Shape: pt.Shape()}
					for _, s := range []struct {
						dst *engine.Span
						t   *Tensor
					}{{&ts[i].Param, pt}, {&ts[i].Grad, grads[i]}, {&ts[i].Momentum, moms[i]}} {
						var err error
						if *s.dst, err = span(s.t); err != nil {
							return err
						}
					}
				}
				return k.OptimizerSteps(p, ts, hyper.Span(), table.Span())
			}
		} else {
			must(t, g.SGD(params, grads, lr))
		}
		x, err := Compile(ctx, k, g, o)
		must(t, err)
		defer x.Close()
		align := int64(k.Device().Info().MinStorageBufferOffsetAlignment)
		for _, set := range [][]*Tensor{params, grads} {
			var spans []engine.Span
			for _, tt := range set {
				s, err := x.Span(tt)
				must(t, err)
				if s.Off%align != 0 || s.Buf != spans0(spans, s).Buf {
					t.Fatalf("%v at %d in %q: want one buffer per role, aligned offsets", tt, s.Off, s.Buf.Name())
				}
				spans = append(spans, s)
			}
			slices.SortFunc(spans, func(a, b engine.Span) int { return int(a.Off - b.Off) })
			for i := 1; i < len(spans); i++ {
				if spans[i].Off < spans[i-1].Off+spans[i-1].Size {
					t.Fatalf("%s: spans at %d+%d and %d overlap", spans[i].Buf.Name(), spans[i-1].Off, spans[i-1].Size, spans[i].Off)
				}
			}
		}
		for p, v := range net.b.init {
			must(t, x.Write(p, v))
		}
		for i := 0; i < steps; i++ {
			must(t, x.Step(ctx, uint64(i), map[*Tensor][]float32{net.x: randn(uint64(i), net.x.Size(), 1), net.dy: randn(uint64(50+i), net.dy.Size(), 1)}))
		}
		out := map[string][]float32{}
		for _, p := range params {
			out[p.Name()], err = x.Read(p)
			must(t, err)
		}
		return out, x.Program().Len()
	}
	sgd, n1 := run(false)
	fused, n2 := run(true)
	if n2 != n1-len(sgd)+1 {
		t.Errorf("%d dispatches with the fused optimizer, %d with per-tensor SGD: want one for all %d tensors", n2, n1, len(sgd))
	}
	for name, want := range sgd {
		// Both compute p - lr*g in float32; they may round the product
		// differently (fused multiply-add or not): a few ulps.
		assertClose(t, name, fused[name], want, 1e-7, 1e-6)
	}
}
