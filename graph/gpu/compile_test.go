package gpu_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels"
)

// testKernels opens the default device (lavapipe here) with the
// validation layer when it is installed; any validation message fails the
// test.
func testKernels(t testing.TB) *kernels.Kernels {
	t.Helper()
	return kernels.New(enginetest.Open(t))
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
		b      *graphtest.Builder
		feeds  map[*graph.Tensor][]float32
		checks map[string]*graph.Tensor
	}
	vjp := func(t *testing.T, b *graphtest.Builder, out *graph.Tensor, xs []*graph.Tensor, feeds map[*graph.Tensor][]float32) net {
		dy := b.T(b.G.Input("dy", out.Shape()))
		graphtest.Must(t, b.Err)
		feeds[dy] = graphtest.Randn(8, dy.Size(), 1)
		grads, err := b.G.VJP([]*graph.Tensor{out}, []*graph.Tensor{dy}, xs)
		graphtest.Must(t, err)
		b.G.Keep(out)
		b.G.Keep(grads...)
		checks := map[string]*graph.Tensor{"out": out}
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
			c := graphtest.NewConvNet(t, 3)
			checks := map[string]*graph.Tensor{"out": c.Out}
			for i, d := range c.Grads {
				checks["grad "+c.Xs[i].Name()] = d
			}
			return net{c.B, map[*graph.Tensor][]float32{c.X: graphtest.Randn(7, c.X.Size(), 1), c.DY: graphtest.Randn(8, c.DY.Size(), 1)}, checks}
		}},
		// The NFNet of the finite-difference test up to its logits: stem,
		// a block, a transition block (avg-pool shortcut), SE with its
		// linears, drop path, dropout, head.
		{"small-nfnet-logits", func(t *testing.T) net {
			b, x, _, logits := graphtest.SmallNetLogits(4, 16, 10, 0.3, 0.2)
			graphtest.Must(t, b.Err)
			return vjp(t, b, logits, append(append([]*graph.Tensor(nil), b.Params...), x), map[*graph.Tensor][]float32{x: graphtest.Randn(7, x.Size(), 1)})
		}},
		// The whole training graph: the same network with label-smoothed
		// cross-entropy and the gradients of every parameter.
		{"small-nfnet-loss", func(t *testing.T) net {
			b, x, labels, loss := graphtest.SmallNet(4, 16, 10, 0.3, 0.2)
			graphtest.Must(t, b.Err)
			grads, err := b.G.Gradients(loss, b.Params)
			graphtest.Must(t, err)
			logits := loss.Node().Inputs()[0]
			correct, err := b.G.Top1Correct(logits, labels)
			graphtest.Must(t, err)
			b.G.Keep(correct)
			checks := map[string]*graph.Tensor{"loss": loss, "top-1 correct": correct}
			for i, d := range grads {
				checks["grad "+b.Params[i].Name()] = d
			}
			return net{b, map[*graph.Tensor][]float32{x: graphtest.Randn(7, x.Size(), 1), labels: {3, 0, 9, 3}}, checks}
		}},
	} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				net := tc.build(t)
				exe, err := gpu.Compile(ctx, k, net.b.G, gpu.Options{})
				graphtest.Must(t, err)
				defer exe.Close()
				cpu := graph.NewCPU[float32](net.b.G)
				for p, v := range net.b.Init {
					graphtest.Must(t, cpu.Set(p, v))
					graphtest.Must(t, exe.Write(p, v))
				}
				graphtest.Must(t, cpu.Run(ctx, seed, net.feeds))
				graphtest.Must(t, exe.Step(ctx, seed, net.feeds))
				worst := 0.0
				for name, tt := range net.checks {
					got, err := exe.Read(tt)
					graphtest.Must(t, err)
					want := cpu.Value(tt)
					m := graphtest.MaxAbs(want)
					graphtest.AssertClose(t, name, got, want, 2e-5*m, 1e-4)
					for i := range got {
						worst = max(worst, math.Abs(float64(got[i]-want[i]))/(m+1e-30))
					}
				}
				t.Logf("%d dispatches, %d barriers, arena %d B (naive %d B); worst error %.2g of the tensor's max", exe.Program().Len(), exe.Program().Barriers(), exe.Plan().PeakBytes, exe.Plan().NaiveBytes, worst)
			})
		}
	}
}

// TestReplayMatchesFreshRecording: 50 training steps replaying one
// recorded program give bit-identical parameters (and optimizer state) to
// 50 steps each recorded afresh (new plan, buffers and command buffers),
// with a new batch, seed and step values (read from a buffer) every step.
func TestReplayMatchesFreshRecording(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const steps = 50
	// step is a training graph with its parameters and per-step feeds.
	type step struct {
		b      *graphtest.Builder
		params []*graph.Tensor
		feeds  func(i int) map[*graph.Tensor][]float32
	}
	for _, tc := range []struct {
		name  string
		build func() step
	}{
		// The conv net's VJP against a fed cotangent, SGD at a learning
		// rate read from a buffer.
		{"conv-net-sgd-rate", func() step {
			net := graphtest.NewConvNet(t, 2)
			params := net.Xs[:len(net.Xs)-1]
			lr, err := net.B.G.Input("lr", graph.Shape{1})
			graphtest.Must(t, err)
			graphtest.Must(t, net.B.G.SGDRate(params, net.Grads[:len(params)], lr))
			return step{net.B, params, func(i int) map[*graph.Tensor][]float32 {
				return map[*graph.Tensor][]float32{net.X: graphtest.Randn(uint64(100+i), net.X.Size(), 1), net.DY: graphtest.Randn(uint64(200+i), net.DY.Size(), 0.1),
					lr: {0.01 * float32(1+i%3)}}
			}}
		}},
		// The small NFNet's whole training step: loss, backward, SGD.
		{"small-nfnet-sgd", func() step {
			b, x, labels, loss := graphtest.SmallNet(4, 16, 10, 0.3, 0.2)
			graphtest.Must(t, b.Err)
			grads, err := b.G.Gradients(loss, b.Params)
			graphtest.Must(t, err)
			graphtest.Must(t, b.G.SGD(b.Params, grads, 0.05))
			return step{b, b.Params, func(i int) map[*graph.Tensor][]float32 {
				return map[*graph.Tensor][]float32{x: graphtest.Randn(uint64(100+i), x.Size(), 1), labels: {float32(i % 10), 3, 7, float32(i * 7 % 10)}}
			}}
		}},
		// NFNet's update as graph ops: the Optimizer and the EMA, with new
		// step values (learning rate, Nesterov, clipping, EMA decay) every
		// step; momenta and averages are carried over too.
		{"small-nfnet-optimizer-ema", func() step {
			o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.DeepMind, EMA: graphtest.EMAMirrored})
			state := slices.Clone(o.Params)
			for _, tg := range o.Targets {
				state = append(state, tg.Momentum)
			}
			return step{o.Builder, append(state, o.Averages...), func(i int) map[*graph.Tensor][]float32 {
				return o.Feeds(t, i, agc.Hyper{LR: 0.02 * float64(1+i%3), Momentum: 0.9, Nesterov: i%2 == 0, WeightDecay: 1e-3,
					Lambda: 0.01 * float64(i%3), EMADecay: agc.EMADecay(0.999, i), Step: int64(i)})
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Replay: one compile, 50 steps.
			net := tc.build()
			exe, err := gpu.Compile(ctx, k, net.b.G, gpu.Options{})
			graphtest.Must(t, err)
			defer exe.Close()
			for p, v := range net.b.Init {
				graphtest.Must(t, exe.Write(p, v))
			}
			for i := 0; i < steps; i++ {
				graphtest.Must(t, exe.Step(ctx, uint64(i), net.feeds(i)))
			}
			// Fresh: every step compiles and records its own program.
			fresh := tc.build()
			state := map[*graph.Tensor][]float32{}
			for p, v := range fresh.b.Init {
				state[p] = v
			}
			for i := 0; i < steps; i++ {
				x, err := gpu.Compile(ctx, k, fresh.b.G, gpu.Options{})
				graphtest.Must(t, err)
				for _, p := range fresh.params {
					if v, ok := state[p]; ok { // optimizer state starts at zero
						graphtest.Must(t, x.Write(p, v))
					}
				}
				graphtest.Must(t, x.Step(ctx, uint64(i), fresh.feeds(i)))
				for _, p := range fresh.params {
					state[p], err = x.Read(p)
					graphtest.Must(t, err)
				}
				x.Close()
			}
			moved := 0.0
			for j, p := range net.params {
				got, err := exe.Read(p)
				graphtest.Must(t, err)
				want := state[fresh.params[j]]
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v[%d]: replayed %v, freshly recorded %v", p, i, got[i], want[i])
					}
					if init, ok := net.b.Init[p]; ok {
						moved = max(moved, math.Abs(float64(got[i]-init[i])))
					}
				}
			}
			if moved == 0 {
				t.Fatal("the step did not move any parameter")
			}
			t.Logf("parameters moved by up to %.3g; bit-identical after %d steps", moved, steps)
		})
	}
}

// TestStepErrors: feeding a non-input, a wrong length, reading or
// writing an arena tensor, another graph's tensor and a cancelled context
// are errors, not panics.
func TestStepErrors(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	net := graphtest.NewConvNet(t, 2)
	x, err := gpu.Compile(ctx, k, net.B.G, gpu.Options{})
	graphtest.Must(t, err)
	defer x.Close()
	p := net.B.Params[0]
	mid := net.Out.Node().Inputs()[0] // the residual's output: an arena tensor
	other := graphtest.NewConvNet(t, 2).X
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"feed a parameter", x.Step(ctx, 0, map[*graph.Tensor][]float32{p: net.B.Init[p]}), "graph: feed " + p.String() + ": a parameter, not an input"},
		{"wrong length", x.Step(ctx, 0, map[*graph.Tensor][]float32{net.X: {1, 2}}), fmt.Sprintf("graph: write %v: 2 values, want %d", net.X, net.X.Size())},
		{"read arena", func() error { _, err := x.Read(mid); return err }(), fmt.Sprintf("graph: read: %v lives in the arena (Keep it to read it after a step)", mid)},
		{"write arena", x.Write(mid, make([]float32, mid.Size())), fmt.Sprintf("graph: write: %v lives in the arena (Keep it to read it after a step)", mid)},
		{"span of another graph", func() error { _, err := x.Span(other); return err }(), fmt.Sprintf("graph: %v is not a tensor of the compiled graph", other)},
		{"cancelled", x.Step(cancelled, 0, nil), "context canceled"},
		{"cpu cancelled", graph.NewCPU[float32](net.B.G).Run(cancelled, 0, nil), "context canceled"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, tc.err, tc.want)
		}
	}
}

// TestTrainSeparable trains the tiny WS-conv classifier on a fixed
// separable batch on the GPU, one recorded step replayed, until the
// training loss is near zero (graph's tests train it on the CPU).
func TestTrainSeparable(t *testing.T) {
	const n, hw, steps = 16, 8, 150
	ctx := context.Background()
	b, x, labels, lr, loss := graphtest.TinyCNN(t, n, hw)
	xv, lv := graphtest.Separable(1, n, hw)
	feeds := map[*graph.Tensor][]float32{x: xv, labels: lv, lr: {0.5}}
	exe, err := gpu.Compile(ctx, testKernels(t), b.G, gpu.Options{})
	graphtest.Must(t, err)
	defer exe.Close()
	for p, v := range b.Init {
		graphtest.Must(t, exe.Write(p, v))
	}
	graphtest.TrainToZero(t, steps, func(i int) float32 {
		graphtest.Must(t, exe.Step(ctx, uint64(i), feeds))
		l, err := exe.Read(loss)
		graphtest.Must(t, err)
		return l[0]
	})
}
