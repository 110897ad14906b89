package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// wsShift is the summation scheme of a WS kernel (see assertWSClose).
type wsShift int

const (
	wsNoShift      wsShift = iota // two-pass (ws, ws_backward)
	wsShiftTwoPass                // shifted, two passes over registers (ws_lane REGS)
	wsShiftOnePass                // shifted, one pass (ws_lane per lane)
)

// assertWSClose compares an fp32 WS result with the float64 reference row
// by row. In the workgroup-per-row kernels each invocation sums about F/L
// terms and the workgroup adds L partials; the lane-per-row kernel keeps
// four running sums of F/4 terms (L = 4 in the formula); the
// subgroup-per-row one four per lane, added across the subgroup (L = 4
// times the subgroup size). A row sum so carries a relative error up to
// u = (F/L + L + 4) * 2^-24 of its sum of magnitudes (the recursive
// summation bound). The mean then has an absolute error up to u*max|w|,
// which reaches the outputs through d = w - mu relative to max|d|: the
// row's conditioning kappa = max|w| / max|d| (1 for zero-mean rows).
// Every element of a row may err by 4u*kappa times the row's largest
// |value| (errors are relative to the row's scale, not to the element), or
// times scale[r] when given: a sum such as dgain = sum(c*G) cancels, and
// its error is relative to sum(|c*G|), not to its value.
//
// The CPU kernels (ws_lane) shift by K, the row's first weight: with
// d = w - K they form w - mu as d - sum(d)/F, whose terms err by u*|w-K|
// and u*sum|d|/F, both <= 2u*max|w-mu|: 2 replaces kappa (mu is never
// rounded to fp32, so a row's offset costs nothing). wsShiftTwoPass then
// sums (d - sum(d)/F)^2 as the unshifted kernels do: the bound is 4u*2.
// wsShiftOnePass sums d and d*d in one pass instead: the variance
// sum(d*d) - sum(d)^2/F errs by up to about 2u*sum(d*d) =
// 2u*F*(var + (K-mu)^2), relative 2u*(1 + (K-mu)^2/var), half of which
// reaches the outputs through rsqrt: the factor c = 1 + (K-mu)^2/var (large
// only when the first weight lies far from the mean). The backward's
// sum((w-mu)*G) = sum(d*G) - sum(d)/F*sum(G) errs relative to
// sum(|w-mu|*|G|) + |K-mu|*sum|G| alike. The bound is 4u times max(2, c).
func assertWSClose(t *testing.T, what string, got, want []float32, w []float32, rows, F, L int, scale []float64, shift wsShift) {
	t.Helper()
	u := (float64(F)/float64(L) + float64(L) + 4) * math.Pow(2, -24)
	cols := len(want) / rows
	for r := 0; r < rows; r++ {
		row := w[r*F : (r+1)*F]
		mu, maxW, maxD := 0.0, 0.0, 0.0
		for _, v := range row {
			mu += float64(v) / float64(F)
			maxW = max(maxW, math.Abs(float64(v)))
		}
		for _, v := range row {
			maxD = max(maxD, math.Abs(float64(v)-mu))
		}
		kappa := 1.0
		if maxD > 0 {
			kappa = max(1, maxW/maxD)
		}
		if shift == wsShiftTwoPass {
			kappa = 2
		}
		if shift == wsShiftOnePass {
			v := 0.0
			for _, x := range row {
				v += (float64(x) - mu) * (float64(x) - mu) / float64(F)
			}
			kappa = 2
			if k0 := float64(row[0]) - mu; v > 0 {
				kappa = max(2, 1+k0*k0/v)
			}
		}
		m := 0.0
		for _, v := range want[r*cols : (r+1)*cols] {
			m = max(m, math.Abs(float64(v)))
		}
		if scale != nil {
			m = max(m, scale[r])
		}
		assertClose(t, fmt.Sprintf("%s row %d", what, r), got[r*cols:(r+1)*cols], want[r*cols:(r+1)*cols], 4*u*kappa*m, 4*u)
	}
}

// tuningVariants are the kernels on the test device as tuned for it (on
// lavapipe: lane-per-row WS, streaming runs, per-invocation partials) and
// as tuned for GPUs (workgroup per row, interleaved lanes, workgroup
// sums), forced through a generic tuning with 64-wide groups so that the
// shared-memory tree sums run too. Both must match the reference.
func tuningVariants(d *engine.Device, k *Kernels) map[string]*Kernels {
	g := New(d)
	g.tune.Class, g.tune.ReduceLocal = "generic", 64
	return map[string]*Kernels{"tuned": k, "workgroup": g}
}

func TestWS(t *testing.T) {
	d, k0 := testDevice(t)
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testWS(t, d, k) })
	}
}

func testWS(t *testing.T, d *engine.Device, k *Kernels) {
	shapes := []ref.WSShape{
		{O: 1, FanIn: 1}, {O: 3, FanIn: 7}, {O: 7, FanIn: 27}, {O: 9, FanIn: 9 * 16}, {O: 13, FanIn: 13},
		{O: 16, FanIn: 1152}, {O: 5, FanIn: 1536}, {O: 2, FanIn: 4}, {O: 70, FanIn: 36},
	}
	formulas := []WSFormula{WSDeepMind, WSTimm(1, ref.TimmWSEps), WSTimm(GammaGELU, 1e-3)}
	for _, f := range formulas {
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%v/%dx%d", f, s.O, s.FanIn), func(t *testing.T) {
				L, shift := int(k.rowLocal()), wsNoShift
				if k.wsRegs(s) {
					L, shift = 4*int(d.Info().SubgroupSize), wsShiftTwoPass
				} else if k.wsLanePerRow() {
					L, shift = 4, wsShiftOnePass
				}
				n := s.O * s.FanIn
				seed := uint64(n*31 + s.O)
				// Rows with a mean offset, so a one-pass variance would
				// cancel; row 0 constant times tiny noise when F > 1, so
				// DeepMind's clamp (n*var < 1e-4) is active there.
				w := randn(seed, n, 1/math.Sqrt(float64(s.FanIn)))
				for o := 0; o < s.O; o++ {
					for i := 0; i < s.FanIn; i++ {
						w[o*s.FanIn+i] += float32(o%3) * 0.5
						if o == 0 && s.O > 2 {
							w[i] = 0.25 + w[i]*1e-4
						}
					}
				}
				gain := randn(seed+1, s.O, 0.2)
				for i := range gain {
					gain[i] += 1
				}
				g := randn(seed+2, n, 1)
				bw, bg, bdy := upload(t, d, w), upload(t, d, gain), upload(t, d, g)
				by, bdw, bdg, bdw2 := upload(t, d, nans(n)), upload(t, d, nans(n)), upload(t, d, nans(s.O)), upload(t, d, nans(n))
				by16, bybf := uploadF16(t, d, nans(n)), uploadBF16(t, d, nans(n))
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.WS(p, s, f, bw.Span(), bg.Span(), by.Span()); err != nil {
						return err
					}
					if err := k.WSOf(p, F16, s, f, bw.Span(), bg.Span(), by16.Span()); err != nil {
						return err
					}
					if err := k.WSOf(p, BF16, s, f, bw.Span(), bg.Span(), bybf.Span()); err != nil {
						return err
					}
					if err := k.WSBackward(p, s, f, bw.Span(), bg.Span(), bdy.Span(), bdw.Span(), bdg.Span()); err != nil {
						return err
					}
					// Without dgain: the same dw.
					return k.WSBackward(p, s, f, bw.Span(), bg.Span(), bdy.Span(), bdw2.Span(), engine.Span{})
				})
				w64, g64, dy64 := to64(w), to64(gain), to64(g)
				y64, dw64, dg64 := make([]float64, n), make([]float64, n), make([]float64, s.O)
				if f.Timm {
					ref.WSTimm(s, w64, g64, float64(f.Gamma), float64(f.Eps), y64)
					ref.WSTimmBackward(s, w64, g64, float64(f.Gamma), float64(f.Eps), dy64, dw64, dg64)
				} else {
					ref.WSDeepMind(s, w64, g64, y64)
					ref.WSDeepMindBackward(s, w64, g64, dy64, dw64, dg64)
				}
				y, dw, dg := to32(y64), to32(dw64), to32(dg64)
				// dgain = sum(what*G)/gain in both formulas: its scale is
				// sum(|what*G|)/|gain|.
				dgScale := make([]float64, s.O)
				for o := range dgScale {
					for i := o * s.FanIn; i < (o+1)*s.FanIn; i++ {
						dgScale[o] += math.Abs(y64[i] * dy64[i] / g64[o])
					}
				}
				assertWSClose(t, "what", download(t, by), y, w, s.O, s.FanIn, L, nil, shift)
				// The 16-bit variants run the same float32 math and round
				// once on store: exactly the float32 result, rounded.
				assertClose(t, "what (float16)", downloadF16(t, by16), roundF16(download(t, by)), 0, 0)
				assertClose(t, "what (bfloat16)", downloadBF16(t, bybf), roundBF16(download(t, by)), 0, 0)
				assertWSClose(t, "dw", download(t, bdw), dw, w, s.O, s.FanIn, L, nil, shift)
				assertClose(t, "dw without dgain", download(t, bdw2), download(t, bdw), 0, 0)
				assertWSClose(t, "dgain", download(t, bdg), dg, w, s.O, s.FanIn, L, dgScale, shift)
			})
		}
	}
}

func TestWSRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, b := upload(t, d, make([]float32, 12)), upload(t, d, make([]float32, 3))
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"zero rows":     k.WS(p, ref.WSShape{O: 0, FanIn: 4}, WSDeepMind, a.Span(), b.Span(), a.Span()),
		"negative F":    k.WS(p, ref.WSShape{O: 3, FanIn: -4}, WSDeepMind, a.Span(), b.Span(), a.Span()),
		"w too small":   k.WS(p, ref.WSShape{O: 3, FanIn: 5}, WSDeepMind, a.Span(), b.Span(), a.Span()),
		"gain small":    k.WS(p, ref.WSShape{O: 4, FanIn: 3}, WSDeepMind, a.Span(), b.Span(), a.Span()),
		"timm nan eps":  k.WS(p, ref.WSShape{O: 3, FanIn: 4}, WSTimm(1, float32(math.NaN())), a.Span(), b.Span(), a.Span()),
		"bwd dgain":     k.WSBackward(p, ref.WSShape{O: 4, FanIn: 3}, WSDeepMind, a.Span(), a.Span(), a.Span(), a.Span(), b.Span()),
		"bwd no buffer": k.WSBackward(p, ref.WSShape{O: 3, FanIn: 4}, WSDeepMind, a.Span(), b.Span(), engine.Span{}, a.Span(), b.Span()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "w too small" {
			t.Logf("%s: %v", name, err)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}
