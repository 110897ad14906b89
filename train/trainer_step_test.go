package train

import (
	"context"
	"math"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// TestStepMatchesTrainStep runs the loop's step (one multi-tensor
// optimizer dispatch, EMA) and nfnet.TrainStep (one dispatch per tensor)
// side by side for a few steps from the same weights and batches: losses
// and parameters must agree, and the EMA must follow agc.EMAUpdate's rule
// on the parameters the steps produce.
func TestStepMatchesTrainStep(t *testing.T) {
	k := loopKernels(t)
	ctx := context.Background()
	l, err := nfnet.NewLayout(loopConfig(4))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	ds := blobs(3*n, 12)
	excl := []string{l.Head.Weight, l.Head.Bias}
	s, err := NewStep(ctx, k, l, StepOptions{Batch: n, Height: 8, Width: 8, LabelSmoothing: 0.1, AGCExclude: excl})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref, err := nfnet.NewTrainStep(ctx, k, l, nfnet.TrainOptions{Batch: n, Height: 8, Width: 8, LabelSmoothing: 0.1,
		Optim: nfnet.Optim{AGCExclude: excl, AGCUnits: agc.DeepMind}})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	vals, err := nfnet.Init(s.Specs, 5)
	if err != nil {
		t.Fatal(err)
	}
	ps := map[string][]float32{}
	for i, sp := range s.Specs {
		ps[sp.Name] = vals[i]
	}
	// A non-zero classifier, so every gradient is non-zero from step 1.
	for i := range ps[l.Head.Weight] {
		ps[l.Head.Weight][i] = float32(math.Sin(float64(i))) * 0.1
	}
	if err := s.SetState(State{Params: ps}); err != nil {
		t.Fatal(err)
	}
	if err := ref.SetParams(ps); err != nil {
		t.Fatal(err)
	}
	ema := map[string][]float64{}
	for name, v := range ps {
		e := make([]float64, len(v))
		for i, x := range v {
			e[i] = float64(x)
		}
		ema[name] = e
	}
	opt := nfnet.Optim{LR: 0.2, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3, AGCClip: 0.04}
	for step := range 3 {
		x := ds.Images[step*n*64 : (step+1)*n*64]
		lab := ds.Labels[step*n : (step+1)*n]
		lab64 := make([]int64, n)
		for i, c := range lab {
			lab64[i] = int64(c)
		}
		d := 0.9
		h := kernels.Hyper{LR: opt.LR, Momentum: opt.Momentum, Nesterov: true, WeightDecay: opt.WeightDecay, Lambda: opt.AGCClip, EMADecay: d}
		if err := s.Submit(x, lab, h, uint64(step)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Run(ctx, x, lab64, opt, uint64(step))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("step %d: loss %v, nfnet.TrainStep %v", step+1, got, want)
		}
		st, err := s.ReadState()
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range s.Specs {
			p, err := ref.Param(sp.Name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p {
				if st.Params[sp.Name][i] != p[i] {
					t.Fatalf("step %d: %s[%d] = %v, nfnet.TrainStep %v", step+1, sp.Name, i, st.Params[sp.Name][i], p[i])
				}
				ema[sp.Name][i] = d*ema[sp.Name][i] + (1-d)*float64(p[i])
				if e := float64(st.EMA[sp.Name][i]); math.Abs(e-ema[sp.Name][i]) > 1e-6*(1+math.Abs(e)) {
					t.Fatalf("step %d: ema %s[%d] = %v, want %v", step+1, sp.Name, i, e, ema[sp.Name][i])
				}
			}
		}
	}
}
