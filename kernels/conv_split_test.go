package kernels

import (
	"math"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// TestConv2DFilterSplit runs the backward-filter of the conv cases with
// GPU tiles, split over scratch and chained, under the GPU lane budget
// (the cases beyond lavapipe's loop limit) and under a tiny one (all
// cases whose rows fit it): the split result must equal the chain's bit
// for bit (the same sums in the same order) and the CPU reference within
// the fp32 bound of TestConv2D.
func TestConv2DFilterSplit(t *testing.T) {
	d, k := testDevice(t)
	split := 0
	for _, budget := range []int{LaneBudgetGPU, 300} {
		kg := k.WithTuning(gpuTuning())
		kg.tune.Class, kg.tune.LaneBudget = "generic", budget
		for i, c := range convCases {
			s := c.s
			if budget == LaneBudgetGPU && !strings.HasPrefix(c.name, "3x3/loop-limit") {
				continue // fits one dispatch: nothing to split
			}
			if s.OutW()+1+convLoopMargin >= budget || s.KH*(s.KW+1)+convLoopMargin >= budget {
				continue // one row or channel alone exceeds the tiny budget
			}
			n := kg.Conv2DBackwardFilterScratch(s)
			if n == 0 {
				continue
			}
			split++
			t.Run(c.name, func(t *testing.T) {
				seed := uint64(10*i + 7)
				x, dy := randn(seed, s.XLen(), 1), randn(seed+1, s.YLen(), 1)
				bx, bdy := upload(t, d, x), upload(t, d, dy)
				bchain, bsplit, bscratch := upload(t, d, nans(s.WLen())), upload(t, d, nans(s.WLen())), upload(t, d, nans(n))
				runProgram(t, kg, func(p *engine.Program) error {
					if err := kg.Conv2DBackwardFilter(p, s, bx.Span(), bdy.Span(), bchain.Span()); err != nil {
						return err
					}
					return kg.Conv2DBackwardFilterSplit(p, s, bx.Span(), bdy.Span(), bsplit.Span(), bscratch.Span())
				})
				chain, got := download(t, bchain), download(t, bsplit)
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(chain[j]) {
						t.Fatalf("budget %d: dw[%d] split %v, chained %v", budget, j, got[j], chain[j])
					}
				}
				want, sum := make([]float32, s.WLen()), make([]float32, s.WLen())
				ref.Conv2DBackwardFilter(s, x, dy, want)
				ref.Conv2DBackwardFilter(s, absAll(x), absAll(dy), sum)
				assertBound(t, "dw", got, want, sum, s.N*s.OutH()*s.OutW())
			})
		}
	}
	if split < 3 {
		t.Errorf("only %d cases split", split)
	}
}

// TestConv2DFilterSplitRejects: a short or overlapping scratch fails with
// an error naming it, before anything is recorded.
func TestConv2DFilterSplitRejects(t *testing.T) {
	d, k := testDevice(t)
	kg := k.WithTuning(gpuTuning())
	kg.tune.Class, kg.tune.LaneBudget = "generic", 300
	s := convCases[4].s // 3x3/dense: 2 x 9 rows of 14 iterations
	n := kg.Conv2DBackwardFilterScratch(s)
	if n == 0 {
		t.Fatalf("%+v does not split with budget 300", s)
	}
	x, dy, dw := upload(t, d, nans(s.XLen())), upload(t, d, nans(s.YLen())), upload(t, d, nans(s.WLen()))
	short := upload(t, d, nans(n-1))
	p := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	for name, tc := range map[string]struct {
		scratch engine.Span
		want    string
	}{
		"short":       {short.Span(), "scratch holds"},
		"overlapping": {x.Span(), "overlaps input x"},
	} {
		err := kg.Conv2DBackwardFilterSplit(p, s, x.Span(), dy.Span(), dw.Span(), tc.scratch)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s scratch: error %v, want %q", name, err, tc.want)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded", p.Len())
	}
}
