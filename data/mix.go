package data

import (
	"fmt"
	"math"
)

// Mix enables MixUp and/or CutMix, which blend each sample of a batch with
// a partner from the same batch (a random pairing) and give it the
// matching soft target λ·onehot(y) + (1-λ)·onehot(y_partner), λ drawn per
// sample from Beta(α, α).
//
// MixUp blends whole images: λ·x + (1-λ)·x_partner. CutMix pastes a random
// box of the partner, of area about (1-λ)·H·W, and then sets λ to the
// exact unpasted fraction of the image. With both alphas set, each sample
// uses CutMix or MixUp with probability 1/2.
type Mix struct {
	MixUpAlpha  float64 // 0 disables MixUp; 0.2 to 1 are common
	CutMixAlpha float64 // 0 disables CutMix; 1 is common
	// Prob is the chance a batch is mixed (timm's mix_prob); 0 means 1.
	// An unmixed batch keeps one-hot targets.
	Prob float64
}

func (m *Mix) validate() error {
	ok := func(a float64) bool { return a >= 0 && !math.IsInf(a, 0) }
	if !(m.Prob >= 0 && m.Prob <= 1) {
		return fmt.Errorf("data: mix probability %v, want [0, 1]", m.Prob)
	}
	if !ok(m.MixUpAlpha) || !ok(m.CutMixAlpha) || m.MixUpAlpha+m.CutMixAlpha == 0 {
		return fmt.Errorf("data: mix alphas %v (MixUp) and %v (CutMix): want finite, non-negative, at least one positive", m.MixUpAlpha, m.CutMixAlpha)
	}
	return nil
}

// apply mixes the staged, already augmented batch b.stage into b.Images and
// writes the (unsmoothed) targets.
func (m *Mix) apply(b *Batch, r *rng) {
	n, s, k := b.N, b.C*b.H*b.W, b.K
	b.Lam = grow(b.Lam, n)
	if m.Prob > 0 && m.Prob < 1 && r.float64() >= m.Prob {
		copy(b.Images, b.stage[:n*s])
		setAll(b.Targets, 0)
		for i, l := range b.Labels {
			b.Targets[i*k+int(l)] = 1
			b.Lam[i] = 1
		}
		b.Partner = grow(b.Partner, n)
		for i := range b.Partner {
			b.Partner[i] = i
		}
		return
	}
	partner := b.partner[:n]
	for i := range partner {
		partner[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		partner[i], partner[j] = partner[j], partner[i]
	}
	for i := range n {
		j := partner[i]
		x, y := b.stage[i*s:(i+1)*s], b.stage[j*s:(j+1)*s]
		out := b.Images[i*s : (i+1)*s]
		cut := m.CutMixAlpha > 0 && (m.MixUpAlpha == 0 || r.coin())
		var lam float32
		if cut {
			lam = cutMix(out, x, y, b.C, b.H, b.W, r.beta(m.CutMixAlpha), r)
		} else {
			lam = float32(r.beta(m.MixUpAlpha))
			for p := range out {
				out[p] = lam*x[p] + (1-lam)*y[p]
			}
		}
		b.Lam[i] = lam
		t := b.Targets[i*k : (i+1)*k]
		setAll(t, 0)
		t[b.Labels[i]] += lam
		t[b.Labels[j]] += 1 - lam
	}
	b.Partner = append(b.Partner[:0], partner...)
}

// cutMix writes x with a box of y pasted in and returns the fraction of
// the image still showing x. The box follows the reference implementation:
// sides scaled by sqrt(1-λ), centre uniform, clipped to the image.
func cutMix(out, x, y []float32, c, h, w int, lam float64, r *rng) float32 {
	copy(out, x)
	ratio := math.Sqrt(1 - lam)
	cw, ch := int(float64(w)*ratio), int(float64(h)*ratio)
	cx, cy := r.intn(w), r.intn(h)
	x0, x1 := max(cx-cw/2, 0), min(cx+cw/2, w)
	y0, y1 := max(cy-ch/2, 0), min(cy+ch/2, h)
	for p := range c {
		for row := y0; row < y1; row++ {
			o := (p*h+row)*w + x0
			copy(out[o:o+x1-x0], y[o:o+x1-x0])
		}
	}
	return 1 - float32((x1-x0)*(y1-y0))/float32(h*w)
}

// smooth applies label smoothing ε to target rows: (1-ε)·t + ε/K.
func smooth(t []float32, k int, eps float32) {
	if eps == 0 {
		return
	}
	u := eps / float32(k)
	for i, v := range t {
		t[i] = (1-eps)*v + u
	}
}
