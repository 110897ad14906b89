package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

func uploadInt32(t *testing.T, d *engine.Device, v []int32) *engine.Buffer {
	t.Helper()
	b, err := d.NewBuffer(t.Name(), int64(4*max(len(v), 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	if err := engine.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	d, k0 := testDevice(t)
	// Lane per sample (the CPU tuning) and workgroup per sample (GPUs).
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testSoftmaxCrossEntropy(t, d, k) })
	}
}

func testSoftmaxCrossEntropy(t *testing.T, d *engine.Device, k *Kernels) {
	shapes := []ref.LossShape{{N: 1, K: 1}, {N: 1, K: 10}, {N: 3, K: 7}, {N: 7, K: 13}, {N: 9, K: 1000}, {N: 13, K: 3}, {N: 64, K: 10}, {N: 4, K: 9}}
	for _, s := range shapes {
		for _, eps := range []float32{0, 0.1} {
			t.Run(fmt.Sprintf("N%d/K%d/eps%v", s.N, s.K, eps), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(s.N*s.K), 3))
				logits := randn(uint64(s.N+s.K), s.N*s.K, 3)
				labels := make([]int, s.N)
				lab32 := make([]int32, s.N)
				for n := range labels {
					labels[n] = r.IntN(s.K)
					lab32[n] = int32(labels[n])
					if n%3 == 1 { // make some samples correct, and a tie at the max
						logits[n*s.K+labels[n]] = 20
						if labels[n]+1 < s.K && n%2 == 0 {
							logits[n*s.K+labels[n]+1] = 20
						}
					}
				}
				// Soft targets: random non-negative rows not summing to 1.
				targets := make([]float32, s.N*s.K)
				for i := range targets {
					targets[i] = float32(r.Float64())
				}
				bl, blab, bt := upload(t, d, logits), uploadInt32(t, d, lab32), upload(t, d, targets)
				bloss, bcorr, bdl := upload(t, d, nans(1)), upload(t, d, nans(1)), upload(t, d, nans(s.N*s.K))
				bsl, bsd := upload(t, d, nans(1)), upload(t, d, nans(s.N*s.K))
				bdl2 := upload(t, d, nans(s.N*s.K))
				scratch, scratch2 := upload(t, d, nans(CEScratch(s))), upload(t, d, nans(CEScratch(s)))
				const dloss = 0.5
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.SoftmaxCrossEntropy(p, s, CE{Logits: bl.Span(), Labels: blab.Span(), Smoothing: eps,
						Loss: bloss.Span(), Correct: bcorr.Span(), DLogits: bdl.Span(), DLoss: dloss, Scratch: scratch.Span()}); err != nil {
						return err
					}
					if err := k.SoftmaxCrossEntropy(p, s, CE{Logits: bl.Span(), Targets: bt.Span(),
						Loss: bsl.Span(), DLogits: bsd.Span(), DLoss: 1, Scratch: scratch2.Span()}); err != nil {
						return err
					}
					// Backward alone.
					return k.SoftmaxCrossEntropy(p, s, CE{Logits: bl.Span(), Labels: blab.Span(), Smoothing: eps, DLogits: bdl2.Span(), DLoss: dloss})
				})
				l64 := to64(logits)
				loss := ref.SoftmaxCrossEntropy(s, l64, labels, float64(eps))
				dl := make([]float64, s.N*s.K)
				ref.SoftmaxCrossEntropyBackward(s, l64, labels, float64(eps), dloss, dl)
				corr := ref.Top1Correct(s, l64, labels)
				t64 := to64(targets)
				sloss := ref.SoftmaxCrossEntropySoft(s, l64, t64)
				sd := make([]float64, s.N*s.K)
				ref.SoftmaxCrossEntropySoftBackward(s, l64, t64, 1, sd)
				// Loss: per row, lse*sum(t) - sum(t*z) in fp32 over K terms
				// of size |z| (up to 20) and t (up to 1): K+8 roundings
				// (exp and log are within a few ulps) of sum|t|*(|lse| +
				// max|z|) per row, averaged. d logits: exp(z - lse) and
				// products: 8 roundings of grad*(p*sum(t) + t), absolute.
				u := math.Pow(2, -24)
				lossTol := func(tg []float64) float64 {
					tol := 0.0
					for n := 0; n < s.N; n++ {
						st, mz := 0.0, 0.0
						for j := n * s.K; j < (n+1)*s.K; j++ {
							st += math.Abs(tg[j])
							mz = max(mz, math.Abs(l64[j]))
						}
						tol += float64(s.K+8) * u * st * (2*mz + math.Log(float64(s.K)))
					}
					return tol / float64(s.N)
				}
				smooth := make([]float64, s.N*s.K)
				ref.SmoothedTargets(s, labels, float64(eps), smooth)
				assertClose(t, "loss", download(t, bloss), []float32{float32(loss)}, lossTol(smooth), 0)
				assertClose(t, "soft loss", download(t, bsl), []float32{float32(sloss)}, lossTol(t64), 0)
				if got := download(t, bcorr)[0]; got != float32(corr) {
					t.Errorf("correct = %v, want %d", got, corr)
				}
				// d logits = g*(p*sum(t) - t): p = exp(z - lse) inherits
				// lse's absolute error, that of a K-term fp32 sum (K/L + L
				// roundings, relative) plus the rounding of lse and of
				// z - lse (2 u max|z|), and exp's few ulps; then the
				// products and the difference round.
				L := float64(k.rowLocal())
				if k.lossLanePerRow() {
					L = 1 // one sequential sum of K terms
				}
				checkDL := func(what string, got []float32, want, tg []float64, g float64) {
					t.Helper()
					mz := maxAbs(logits)
					bad := 0
					for i := range want {
						pst := want[i]/g + tg[i] // p * sum(t)
						tol := g * ((float64(s.K)/L+L+8+2*mz)*u*math.Abs(pst) + 4*u*math.Abs(tg[i]))
						if e := math.Abs(float64(got[i]) - want[i]); !(e <= tol) {
							if bad < 5 {
								t.Errorf("%s[%d] = %v, want %v (|err| %g > %g)", what, i, got[i], want[i], e, tol)
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(want))
					}
				}
				checkDL("dlogits", download(t, bdl), dl, smooth, dloss/float64(s.N))
				assertClose(t, "dlogits alone", download(t, bdl2), download(t, bdl), 0, 0)
				checkDL("soft dlogits", download(t, bsd), sd, t64, 1/float64(s.N))
			})
		}
	}
}

func TestSoftmaxCrossEntropyRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, one := upload(t, d, make([]float32, 12)), upload(t, d, make([]float32, 1))
	lab := uploadInt32(t, d, make([]int32, 3))
	s := ref.LossShape{N: 3, K: 4}
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"zero K":          k.SoftmaxCrossEntropy(p, ref.LossShape{N: 3, K: 0}, CE{Logits: a.Span(), Labels: lab.Span(), DLogits: a.Span()}),
		"logits small":    k.SoftmaxCrossEntropy(p, ref.LossShape{N: 3, K: 5}, CE{Logits: a.Span(), Labels: lab.Span(), DLogits: a.Span()}),
		"labels small":    k.SoftmaxCrossEntropy(p, ref.LossShape{N: 4, K: 3}, CE{Logits: a.Span(), Labels: lab.Span(), DLogits: a.Span()}),
		"no output":       k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), Labels: lab.Span()}),
		"no targets":      k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), DLogits: a.Span()}),
		"correct no lab":  k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), Targets: a.Span(), Correct: one.Span(), Scratch: a.Span()}),
		"no scratch":      k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), Labels: lab.Span(), Loss: one.Span()}),
		"scratch small":   k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), Labels: lab.Span(), Loss: one.Span(), Scratch: one.Span()}),
		"smoothing range": k.SoftmaxCrossEntropy(p, s, CE{Logits: a.Span(), Labels: lab.Span(), Smoothing: 2, DLogits: a.Span()}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}
