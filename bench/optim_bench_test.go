package bench

import (
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// optimBytes is the memory traffic a fused step cannot avoid per element:
// read param, grad and momentum, write param and momentum (5 float32).
// The norm pass re-reads param and grad of a unit while it is in cache.
const optimBytes = 5 * 4

// optimHyper returns a hyper buffer holding the spec's ImageNet settings.
func optimHyper(b *testing.B) engine.Span {
	b.Helper()
	h := buffer(b, "hyper", kernels.HyperBytes/4)
	s := agc.SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 2e-5, Clip: &agc.Clipper{Lambda: 0.01, Rule: agc.DeepMind}}
	if err := kernels.WriteHyper(h.Span(), s.Hyper()); err != nil {
		b.Fatal(err)
	}
	return h.Span()
}

// optimTensor allocates param, grad and momentum for shape.
func optimTensor(b *testing.B, name string, shape []int, wd, clip bool) kernels.OptimTensor {
	b.Helper()
	units, err := kernels.UnitsOf(shape, agc.DeepMind)
	if err != nil {
		b.Fatal(err)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	return kernels.OptimTensor{Name: name, Shape: shape, Param: buffer(b, name, n).Span(), Grad: buffer(b, name+".grad", n).Span(),
		Momentum: buffer(b, name+".momentum", n).Span(), WeightDecay: wd, AGC: clip, Units: units}
}

// BenchmarkOptimizerStep times the fused step (AGC, weight decay,
// Nesterov SGD) of a 1536x128x3x3 conv weight: 1536 AGC units of 1152
// elements, one workgroup each, in GB/s of optimBytes per element; with
// AGC off (the norms skipped) for comparison. The parameter is updated in
// place on every run, which changes the values but not the work.
func BenchmarkOptimizerStep(b *testing.B) {
	shape := []int{1536, 128, 3, 3}
	n := 1536 * 128 * 3 * 3
	for _, clip := range []bool{true, false} {
		name := "1536x128x3x3/agc"
		if !clip {
			name = "1536x128x3x3/noagc"
		}
		b.Run(name, func(b *testing.B) {
			hyper := optimHyper(b)
			t := optimTensor(b, "w", shape, true, clip)
			p := program(b, "optim", func(p *engine.Program) error { return lib.OptimizerStep(p, t, hyper) })
			reportGBs(b, optimBytes*float64(n), gpuTime(b, p))
		})
	}
}

// BenchmarkOptimizerSmallTensors compares one dispatch per tensor with one
// batched dispatch (OptimizerSteps) for what an NFNet stage has most of:
// 64 blocks' worth of small tensors (a gain (256,1,1,1), a bias (256,)
// and a 0-d skip gain each), in GPU time per step.
func BenchmarkOptimizerSmallTensors(b *testing.B) {
	const blocks, c = 64, 256
	hyper := optimHyper(b)
	var shapes [][]int
	for i := 0; i < blocks; i++ {
		shapes = append(shapes, []int{c, 1, 1, 1}, []int{c}, []int{})
	}
	// One arena per role, as a model packs its parameters.
	total := 0
	for _, s := range shapes {
		total += numel(s)
	}
	pb, gb, mb := buffer(b, "params", total), buffer(b, "grads", total), buffer(b, "momentum", total)
	ts := make([]kernels.OptimTensor, len(shapes))
	off := 0
	for i, s := range shapes {
		n := numel(s)
		units, err := kernels.UnitsOf(s, agc.DeepMind)
		if err != nil {
			b.Fatal(err)
		}
		sp := func(buf *engine.Buffer) engine.Span { return buf.Span().Sub(int64(4*off), int64(4*n)) }
		ts[i] = kernels.OptimTensor{Name: string(rune('a'+i%26)) + string(rune('0'+i/26)), Shape: s,
			Param: sp(pb), Grad: sp(gb), Momentum: sp(mb), AGC: true, Units: units}
		off += n
	}
	b.Run("dispatch_each", func(b *testing.B) {
		p := program(b, "optim each", func(p *engine.Program) error {
			for _, t := range ts {
				if err := lib.OptimizerStep(p, t, hyper); err != nil {
					return err
				}
			}
			return nil
		})
		t := gpuTime(b, p)
		b.ReportMetric(float64(t.Microseconds()), "gpu_us")
	})
	b.Run("batched", func(b *testing.B) {
		table := buffer(b, "table", int(kernels.OptimTableBytes(len(ts))/4))
		p := program(b, "optim batched", func(p *engine.Program) error { return lib.OptimizerSteps(p, ts, hyper, table.Span()) })
		t := gpuTime(b, p)
		b.ReportMetric(float64(t.Microseconds()), "gpu_us")
	})
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
