package kernels

import (
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// gpuTuning is the tuning of a GPU class (the lane budget applies).
func gpuTuning() Tuning {
	return TuningFor(engine.DeviceInfo{VendorID: 0x10DE, MaxWorkgroupInvocs: 1024})
}

// fakeSpan is a span of n float32 in a buffer of its own that exists
// only as an identity: a work planner touches no memory.
func fakeSpan(n int) engine.Span { return engine.Span{Buf: new(engine.Buffer), Size: int64(4 * n)} }

// planConv logs the four passes of s with planner k.
func planConv(k *Kernels, s Conv2DShape) error {
	x, w, b, y := fakeSpan(s.XLen()), fakeSpan(s.WLen()), fakeSpan(s.O), fakeSpan(s.YLen())
	if err := k.Conv2D(nil, s, x, w, b, y); err != nil {
		return err
	}
	if err := k.Conv2DBackwardData(nil, s, y, w, x); err != nil {
		return err
	}
	if err := k.Conv2DBackwardFilter(nil, s, x, y, w); err != nil {
		return err
	}
	return k.Conv2DBackwardBias(nil, s, y, b)
}

// TestConvLaneBudget plans every conv case with the GPU tuning, with a
// tiny budget and with the device's own tuning (on lavapipe: its loop
// limit): every dispatch's modelled work stays within the limit, and the
// long reductions become chains. TestConv2D runs the GPU plans against
// the CPU reference.
func TestConvLaneBudget(t *testing.T) {
	_, k := testDevice(t)
	tiny := gpuTuning()
	tiny.LaneBudget = 300
	for _, tune := range []Tuning{gpuTuning(), tiny, k.tune} {
		pl := k.WorkPlanner(tune)
		limit := pl.laneLimit()
		if limit == 0 {
			continue // the device's tuning, where it has no loop limit
		}
		for _, c := range convCases {
			if max(c.s.KH*(c.s.KW+1), c.s.OutW()+1)+convLoopMargin >= limit {
				continue // the tiny budget cannot hold one channel or output row
			}
			if err := planConv(pl, c.s); err != nil {
				t.Fatalf("%s, %s tuning, limit %d: %v", c.name, tune.Class, limit, err)
			}
		}
		chains := 0
		for _, w := range pl.Work() {
			if w.Iters > limit || w.Iters <= 0 {
				t.Errorf("%s tuning, limit %d: %s (%s) runs %d iterations per invocation", tune.Class, limit, w.Dispatch, w.Shader, w.Iters)
			}
			if strings.HasSuffix(w.Dispatch, "]") {
				chains++
			}
		}
		if chains == 0 {
			t.Errorf("%s tuning, limit %d: no case became a chain", tune.Class, limit)
		}
	}
}

// TestGEMMLaneBudget: with the GPU tuning a long K splits into chunks
// within the budget, and a small budget still gives correct results (the
// K chunks accumulate in order: the same path as binding splits).
func TestGEMMLaneBudget(t *testing.T) {
	d, k := testDevice(t)
	pl := k.WorkPlanner(gpuTuning())
	s := GEMMShape{M: 8, N: 8, K: 20*LaneBudgetGPU + 5}
	if err := pl.GEMM(nil, s, 1, fakeSpan(s.ALen()), fakeSpan(s.BLen()), 0, fakeSpan(s.CLen())); err != nil {
		t.Fatal(err)
	}
	work := pl.Work()
	for _, w := range work {
		if w.Iters > LaneBudgetGPU {
			t.Errorf("%s: %d iterations", w.Dispatch, w.Iters)
		}
	}
	if len(work) < 20 {
		t.Errorf("K %d in %d dispatches", s.K, len(work))
	}
	small := k.WithTuning(gpuTuning())
	small.tune.LaneBudget = 16
	var cases []*gemmCase
	for tr := 0; tr < 4; tr++ {
		cases = append(cases, &gemmCase{s: GEMMShape{M: 9, N: 11, K: 70, TransA: tr&1 != 0, TransB: tr&2 != 0},
			alpha: 1.25, beta: 0.5, wantSplit: true})
	}
	runGEMMTable(t, d, small, cases, gemmTestTileTiled, int(d.Info().MaxStorageBufferRange/4))
}

// TestEveryShaderHasAWorkModel: the planner can measure every dispatch
// (optim_sgd_multi's work comes from its kernel, which knows its table).
func TestEveryShaderHasAWorkModel(t *testing.T) {
	for name := range contracts {
		if name == "optim_sgd_multi" {
			continue
		}
		if _, err := laneIters(name, []uint32{64, 1, 1, 1, 1, 1, 1, 1}, [3]uint32{1, 1, 1}, nil, 8); err != nil {
			t.Error(err)
		}
	}
}

// TestWorkPlannerRecordsNothing: a planner logs what the kernels would
// record, builds no pipeline and needs no program.
func TestWorkPlannerRecordsNothing(t *testing.T) {
	_, k := testDevice(t)
	pl := k.WorkPlanner(gpuTuning())
	n := 1 << 20
	if err := pl.Copy(nil, fakeSpan(n), fakeSpan(n)); err != nil {
		t.Fatal(err)
	}
	w := pl.Work()
	if len(w) != 1 || w[0].Shader != "copy" || w[0].Iters != streamWork(n/4, int(w[0].Groups[0])*256) {
		t.Errorf("copy of %d: %+v", n, w)
	}
	if len(pl.shaders) != 1 || k.Work() != nil {
		t.Errorf("planner: %d shaders loaded; the device's kernels log %v", len(pl.shaders), k.Work())
	}
}
