package ref

import (
	"fmt"
	"math"
)

// LossShape describes a batch of N rows of K class logits, row-major [N, K].
type LossShape struct {
	N, K int
}

// Validate rejects non-positive sizes.
func (s LossShape) Validate() error {
	if s.N <= 0 || s.K <= 0 {
		return fmt.Errorf("softmax cross-entropy: N and K must be positive: %+v", s)
	}
	return nil
}

// SmoothedTargets writes the label-smoothed targets of integer labels,
// t[n, k] = (1-eps)*[k == labels[n]] + eps/K (PyTorch's label_smoothing).
func SmoothedTargets[T Float](s LossShape, labels []int, eps float64, targets []T) {
	const op = "smoothed targets"
	mustValidate(s)
	checkLen(op, "labels", len(labels), s.N)
	checkLen(op, "targets", len(targets), s.N*s.K)
	for n, l := range labels {
		if l < 0 || l >= s.K {
			panic(fmt.Sprintf("%s: label %d of sample %d outside [0, %d)", op, l, n, s.K))
		}
		for k := 0; k < s.K; k++ {
			t := eps / float64(s.K)
			if k == l {
				t += 1 - eps
			}
			targets[n*s.K+k] = T(t)
		}
	}
}

// logSumExp returns log(sum(exp(z))) of one row, shifted by its maximum.
func logSumExp[T Float](z []T) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum)
}

// SoftmaxCrossEntropySoft returns the mean over the batch of
// -sum_k targets[n,k] * log_softmax(logits[n])[k]. Targets need not be one-hot
// (MixUp/CutMix, label smoothing) nor sum to 1.
func SoftmaxCrossEntropySoft[T Float](s LossShape, logits, targets []T) float64 {
	const op = "softmax cross-entropy"
	mustValidate(s)
	checkLen(op, "logits", len(logits), s.N*s.K)
	checkLen(op, "targets", len(targets), s.N*s.K)
	total := 0.0
	for n := 0; n < s.N; n++ {
		z, t := logits[n*s.K:(n+1)*s.K], targets[n*s.K:(n+1)*s.K]
		lse := logSumExp(z)
		for k := range z {
			total += float64(t[k]) * (lse - float64(z[k]))
		}
	}
	return total / float64(s.N)
}

// SoftmaxCrossEntropySoftBackward computes dlogits = dloss * d(mean loss)/dlogits:
//
//	dlogits[n,k] = dloss/N * (softmax(logits[n])[k] * sum_j targets[n,j] - targets[n,k])
func SoftmaxCrossEntropySoftBackward[T Float](s LossShape, logits, targets []T, dloss float64, dlogits []T) {
	const op = "softmax cross-entropy backward"
	mustValidate(s)
	checkLen(op, "logits", len(logits), s.N*s.K)
	checkLen(op, "targets", len(targets), s.N*s.K)
	checkLen(op, "dlogits", len(dlogits), s.N*s.K)
	g := dloss / float64(s.N)
	for n := 0; n < s.N; n++ {
		z, t := logits[n*s.K:(n+1)*s.K], targets[n*s.K:(n+1)*s.K]
		lse := logSumExp(z)
		sumT := 0.0
		for _, v := range t {
			sumT += float64(v)
		}
		for k := range z {
			p := math.Exp(float64(z[k]) - lse)
			dlogits[n*s.K+k] = T(g * (p*sumT - float64(t[k])))
		}
	}
}

// SoftmaxCrossEntropy returns the mean cross-entropy of integer labels with
// label smoothing eps: the soft loss with SmoothedTargets (targets computed
// in float64).
func SoftmaxCrossEntropy[T Float](s LossShape, logits []T, labels []int, eps float64) float64 {
	t := make([]float64, s.N*s.K)
	SmoothedTargets(s, labels, eps, t)
	checkLen("softmax cross-entropy", "logits", len(logits), s.N*s.K)
	return SoftmaxCrossEntropySoft(s, toF64(logits), t)
}

// SoftmaxCrossEntropyBackward computes dlogits of SoftmaxCrossEntropy times
// dloss: dloss/N * (softmax(logits[n]) - smoothed targets[n]).
func SoftmaxCrossEntropyBackward[T Float](s LossShape, logits []T, labels []int, eps, dloss float64, dlogits []T) {
	t := make([]float64, s.N*s.K)
	SmoothedTargets(s, labels, eps, t)
	checkLen("softmax cross-entropy backward", "logits", len(logits), s.N*s.K)
	checkLen("softmax cross-entropy backward", "dlogits", len(dlogits), s.N*s.K)
	d := make([]float64, s.N*s.K)
	SoftmaxCrossEntropySoftBackward(s, toF64(logits), t, dloss, d)
	storeT(dlogits, d)
}

// Top1Correct counts the samples whose largest logit (the first one on a tie)
// is at their label.
func Top1Correct[T Float](s LossShape, logits []T, labels []int) int {
	mustValidate(s)
	checkLen("top1", "logits", len(logits), s.N*s.K)
	checkLen("top1", "labels", len(labels), s.N)
	correct := 0
	for n, l := range labels {
		z := logits[n*s.K : (n+1)*s.K]
		best := 0
		for k := range z {
			if z[k] > z[best] {
				best = k
			}
		}
		if best == l {
			correct++
		}
	}
	return correct
}
