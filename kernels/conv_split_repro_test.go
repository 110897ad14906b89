package kernels

import (
	"context"
	"math"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// TestConv2DFilterSplitReproducible: the split backward-filter's dw is
// the same to the bit on every replay of a recorded program and in a
// fresh recording (slices summed in slice order: no atomics, no order
// that depends on scheduling), under a GPU tuning and a lane budget that
// splits every case below.
func TestConv2DFilterSplitReproducible(t *testing.T) {
	d, k := testDevice(t)
	kg := k.WithTuning(gpuTuning())
	kg.tune.Class, kg.tune.LaneBudget = "generic", 300
	ran := 0
	for i, c := range convCases {
		s := c.s
		n := kg.Conv2DBackwardFilterScratch(s)
		if n == 0 || s.XLen() > 1<<16 {
			continue // no split, or big enough to slow the test
		}
		ran++
		x, dy := upload(t, d, randn(uint64(i), s.XLen(), 1)), upload(t, d, randn(uint64(i)+1, s.YLen(), 1))
		dw, scratch := upload(t, d, nans(s.WLen())), upload(t, d, nans(n))
		var first []float32
		for rec := range 2 {
			p := d.NewProgram("split", engine.ProgramOptions{})
			if err := kg.Conv2DBackwardFilterSplit(p, s, x.Span(), dy.Span(), dw.Span(), scratch.Span()); err != nil {
				p.Close()
				t.Fatalf("%s: %v", c.name, err)
			}
			for run := range 3 {
				if err := p.Run(context.Background()); err != nil {
					p.Close()
					t.Fatal(err)
				}
				got := download(t, dw)
				if first == nil {
					first = got
					continue
				}
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(first[j]) {
						t.Fatalf("%s: recording %d run %d: dw[%d] = %v, first run %v", c.name, rec, run, j, got[j], first[j])
					}
				}
			}
			p.Close()
		}
	}
	if ran < 3 {
		t.Errorf("only %d cases split", ran)
	}
}
