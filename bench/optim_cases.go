package bench

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// optimBytes is the memory traffic a fused step cannot avoid per element:
// read param, grad and momentum, write param and momentum (5 float32).
// The norm pass re-reads param and grad of a unit while it is in cache.
const optimBytes = 5 * 4

// optimHyper returns a hyper buffer holding the spec's ImageNet settings.
func (s *scope) optimHyper() engine.Span {
	h := s.buffer("hyper", kernels.HyperBytes/4)
	if s.err != nil {
		return h
	}
	sgd := agc.SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 2e-5, Clip: &agc.Clipper{Lambda: 0.01, Rule: agc.DeepMind}}
	if err := kernels.WriteHyper(h, sgd.Hyper()); err != nil {
		s.fail(fmt.Errorf("hyper: %w", err))
	}
	return h
}

func optimCases() []Case {
	return []Case{
		{Name: "OptimizerStep/1536x128x3x3/agc", Run: func(ctx context.Context, env *Env) (Result, error) {
			return optimizerStep(ctx, env, true)
		}},
		{Name: "OptimizerStep/1536x128x3x3/noagc", Run: func(ctx context.Context, env *Env) (Result, error) {
			return optimizerStep(ctx, env, false)
		}},
		{Name: "OptimizerSmallTensors/dispatch_each", Small: true, Run: func(ctx context.Context, env *Env) (Result, error) {
			return optimizerSmall(ctx, env, false)
		}},
		{Name: "OptimizerSmallTensors/batched", Small: true, Run: func(ctx context.Context, env *Env) (Result, error) {
			return optimizerSmall(ctx, env, true)
		}},
	}
}

// optimizerStep times the fused step (AGC, weight decay, Nesterov SGD)
// of a 1536x128x3x3 conv weight: 1536 AGC units of 1152 elements, one
// workgroup each, in GB/s of optimBytes per element; with AGC off (the
// norms skipped) for comparison. The parameter is updated in place on
// every run, which changes the values but not the work.
func optimizerStep(ctx context.Context, env *Env, clip bool) (Result, error) {
	shape := []int{1536, 128, 3, 3}
	n := numel(shape)
	units, err := kernels.UnitsOf(shape, agc.DeepMind)
	if err != nil {
		return Result{}, err
	}
	s := newScope(env)
	defer s.close()
	hyper := s.optimHyper()
	t := kernels.OptimTensor{Name: "w", Shape: shape, Param: s.buffer("w", n), Grad: s.buffer("w.grad", n),
		Momentum: s.buffer("w.momentum", n), WeightDecay: true, AGC: clip, Units: units}
	p := s.profiled("optim", func(p *engine.Program) error { return env.Lib.OptimizerStep(p, t, hyper) })
	d, err := s.gpuTime(ctx, p)
	return gbs(optimBytes*float64(n), d, err)
}

// optimizerSmall compares one dispatch per tensor with one batched
// dispatch (OptimizerSteps) for what an NFNet stage has most of: 64
// blocks' worth of small tensors (a gain (256,1,1,1), a bias (256,) and a
// 0-d skip gain each), in GPU time per step.
func optimizerSmall(ctx context.Context, env *Env, batched bool) (Result, error) {
	const blocks, c = 64, 256
	var shapes [][]int
	for i := 0; i < blocks; i++ {
		shapes = append(shapes, []int{c, 1, 1, 1}, []int{c}, []int{})
	}
	// One arena per role, as a model packs its parameters.
	total := 0
	for _, sh := range shapes {
		total += numel(sh)
	}
	s := newScope(env)
	defer s.close()
	hyper := s.optimHyper()
	pb, gb, mb := s.buffer("params", total), s.buffer("grads", total), s.buffer("momentum", total)
	ts := make([]kernels.OptimTensor, len(shapes))
	off := 0
	for i, sh := range shapes {
		n := numel(sh)
		units, err := kernels.UnitsOf(sh, agc.DeepMind)
		if err != nil {
			return Result{}, err
		}
		sub := func(sp engine.Span) engine.Span {
			if sp.Buf == nil { // allocation failed: s.err says why
				return sp
			}
			return sp.Sub(int64(4*off), int64(4*n))
		}
		ts[i] = kernels.OptimTensor{Name: string(rune('a'+i%26)) + string(rune('0'+i/26)), Shape: sh,
			Param: sub(pb), Grad: sub(gb), Momentum: sub(mb), AGC: true, Units: units}
		off += n
	}
	var p *engine.Program
	if batched {
		table := s.buffer("table", int(kernels.OptimTableBytes(len(ts))/4))
		p = s.profiled("optim batched", func(p *engine.Program) error { return env.Lib.OptimizerSteps(p, ts, hyper, table) })
	} else {
		p = s.profiled("optim each", func(p *engine.Program) error {
			for _, t := range ts {
				if err := env.Lib.OptimizerStep(p, t, hyper); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return gpuUS(s.gpuTime(ctx, p))
}
