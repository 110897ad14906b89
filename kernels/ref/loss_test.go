package ref

import (
	"math"
	"testing"
)

// torchCE is PyTorch's cross_entropy(label_smoothing=eps) written out:
// mean over n of (1-eps)*(-log p[label]) + eps*mean_k(-log p[k]), with the
// softmax computed naively (fine for the moderate logits used here).
func torchCE(s LossShape, z []float64, labels []int, eps float64) float64 {
	total := 0.0
	for n := 0; n < s.N; n++ {
		row := z[n*s.K : (n+1)*s.K]
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(v)
		}
		nll, smooth := -math.Log(math.Exp(row[labels[n]])/sum), 0.0
		for _, v := range row {
			smooth += -math.Log(math.Exp(v)/sum) / float64(s.K)
		}
		total += (1-eps)*nll + eps*smooth
	}
	return total / float64(s.N)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	for i, s := range []LossShape{{1, 1}, {1, 2}, {4, 10}, {7, 3}, {3, 1000}} {
		r := newRand(uint64(1500 + i))
		z := randn(r, s.N*s.K)
		for j := range z {
			z[j] *= 2
		}
		labels := make([]int, s.N)
		for n := range labels {
			labels[n] = r.IntN(s.K)
		}
		for _, eps := range []float64{0, 0.1, 1} {
			got := SoftmaxCrossEntropy(s, z, labels, eps)
			if want := torchCE(s, z, labels, eps); math.Abs(got-want) > 1e-12*max(1, want) {
				t.Errorf("%+v eps %v: loss %.15g, want %.15g", s, eps, got, want)
			}
			dz := make([]float64, len(z))
			SoftmaxCrossEntropyBackward(s, z, labels, eps, 1, dz)
			checkGrad(t, "ce dlogits", r, z, dz, func() float64 { return SoftmaxCrossEntropy(s, z, labels, eps) }, 60)
			// dloss scales the gradient.
			dz3 := make([]float64, len(z))
			SoftmaxCrossEntropyBackward(s, z, labels, eps, 3, dz3)
			for j := range dz {
				if math.Abs(dz3[j]-3*dz[j]) > 1e-15 {
					t.Fatalf("dloss 3 does not triple the gradient")
				}
			}
		}
		// Soft targets that are neither one-hot nor normalised.
		tg := randn(r, s.N*s.K)
		for j := range tg {
			tg[j] = math.Abs(tg[j])
		}
		dz := make([]float64, len(z))
		SoftmaxCrossEntropySoftBackward(s, z, tg, 1, dz)
		checkGrad(t, "soft ce dlogits", r, z, dz, func() float64 { return SoftmaxCrossEntropySoft(s, z, tg) }, 60)
		// Smoothed targets as soft targets give the label loss.
		st := make([]float64, s.N*s.K)
		SmoothedTargets(s, labels, 0.1, st)
		if a, b := SoftmaxCrossEntropySoft(s, z, st), SoftmaxCrossEntropy(s, z, labels, 0.1); math.Abs(a-b) > 1e-13 {
			t.Errorf("%+v: soft %v != label %v", s, a, b)
		}
	}
}

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	// Zero logits: the loss is log K for any smoothing.
	s := LossShape{N: 3, K: 10}
	z := make([]float32, 30)
	for _, eps := range []float64{0, 0.1} {
		if got := SoftmaxCrossEntropy(s, z, []int{0, 5, 9}, eps); math.Abs(got-math.Log(10)) > 1e-15 {
			t.Errorf("eps %v: loss %v, want log 10", eps, got)
		}
	}
	// Smoothed target values.
	tg := make([]float64, 3)
	SmoothedTargets(LossShape{N: 1, K: 3}, []int{1}, 0.3, tg)
	if math.Abs(tg[0]-0.1) > 1e-15 || math.Abs(tg[1]-0.8) > 1e-15 || math.Abs(tg[2]-0.1) > 1e-15 {
		t.Errorf("smoothed targets %v, want [0.1 0.8 0.1]", tg)
	}
	// Large logits stay finite.
	big := []float64{1000, -1000, 0, 800}
	l := SoftmaxCrossEntropy(LossShape{N: 1, K: 4}, big, []int{3}, 0.1)
	d := make([]float64, 4)
	SoftmaxCrossEntropyBackward(LossShape{N: 1, K: 4}, big, []int{3}, 0.1, 1, d)
	if want := 0.9*200 + 0.1*(0+2000+1000+200)/4; math.Abs(l-want) > 1e-9 {
		t.Errorf("large logits: loss %v, want %v", l, want)
	}
	for _, v := range d {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("large logits: gradient %v", d)
		}
	}
	mustPanic(t, "label 3 of sample 0 outside [0, 3)", func() {
		SoftmaxCrossEntropy(LossShape{N: 1, K: 3}, []float64{0, 0, 0}, []int{3}, 0)
	})
}

func TestTop1Correct(t *testing.T) {
	s := LossShape{N: 4, K: 3}
	z := []float32{
		0.1, 0.7, 0.2, // argmax 1
		5, 5, 1, // tie: first index, 0
		-1, -2, -0.5, // 2
		0, 0, 0, // all tied: 0
	}
	if got := Top1Correct(s, z, []int{1, 0, 2, 1}); got != 3 {
		t.Errorf("Top1Correct = %d, want 3", got)
	}
	if got := Top1Correct(s, z, []int{0, 1, 0, 2}); got != 0 {
		t.Errorf("Top1Correct = %d, want 0", got)
	}
}
