package ref

import (
	"fmt"
	"math"
)

// DeepMindWSMinNVar is the floor on n*var in DeepMind's scaled weight
// standardization: scale = gain * rsqrt(max(n*var, 1e-4)).
const DeepMindWSMinNVar = 1e-4

// TimmWSEps is timm's default eps in ScaledStdConv2d: (W-mu)/sqrt(var+eps).
const TimmWSEps = 1e-5

// WSShape describes weight standardization of O rows (output channels), each
// of FanIn contiguous weights (for OIHW conv weights FanIn = C/Groups*KH*KW).
// The gain has one value per row (timm's (O,1,1,1) tensor, flattened).
type WSShape struct {
	O, FanIn int
}

// WSShapeOf is the weight-standardization shape of a convolution's weights.
func WSShapeOf(c Conv2DShape) WSShape { return WSShape{O: c.O, FanIn: c.C / c.Groups * c.KH * c.KW} }

// Validate rejects non-positive sizes.
func (s WSShape) Validate() error {
	if s.O <= 0 || s.FanIn <= 0 {
		return fmt.Errorf("weight standardization: O and FanIn must be positive: %+v", s)
	}
	return nil
}

// wsRowStats returns the mean and the sum of squared deviations of one row,
// both in float64 (two passes).
func wsRowStats[T Float](row []T) (mu, ss float64) {
	for _, v := range row {
		mu += float64(v)
	}
	mu /= float64(len(row))
	for _, v := range row {
		d := float64(v) - mu
		ss += d * d
	}
	return mu, ss
}

func wsCheck[T Float](op string, s WSShape, w, gain []T) {
	mustValidate(s)
	checkLen(op, "w", len(w), s.O*s.FanIn)
	checkLen(op, "gain", len(gain), s.O)
}

// WSDeepMind computes DeepMind's scaled weight standardization, per row o:
//
//	mu = mean(W_o), var = mean((W_o-mu)^2)
//	What_o = (W_o - mu) * gain_o * rsqrt(max(n*var, 1e-4))
//
// with n = FanIn; equivalently gain_o * (W_o-mu) / max(||W_o-mu||, 0.01).
func WSDeepMind[T Float](s WSShape, w, gain, what []T) {
	wsCheck("ws deepmind", s, w, gain)
	checkLen("ws deepmind", "what", len(what), s.O*s.FanIn)
	for o := 0; o < s.O; o++ {
		row := w[o*s.FanIn : (o+1)*s.FanIn]
		mu, ss := wsRowStats(row)
		scale := float64(gain[o]) / math.Sqrt(math.Max(ss, DeepMindWSMinNVar))
		for i, v := range row {
			what[o*s.FanIn+i] = T((float64(v) - mu) * scale)
		}
	}
}

// WSDeepMindBackward computes the gradients of WSDeepMind from
// dwhat = dL/dWhat. With d = max(n*var, 1e-4), c = (W_o-mu)/sqrt(d) and
// G = dwhat_o:
//
//	dgain_o = sum(G * c)
//	dW_o    = gain_o/sqrt(d) * (G - mean(G) - c*sum(c*G))
//
// where the c term is dropped while the clamp is active (n*var < 1e-4, d is
// then a constant). dgain may be nil.
func WSDeepMindBackward[T Float](s WSShape, w, gain, dwhat, dw, dgain []T) {
	const op = "ws deepmind backward"
	wsCheck(op, s, w, gain)
	checkLen(op, "dwhat", len(dwhat), s.O*s.FanIn)
	checkLen(op, "dw", len(dw), s.O*s.FanIn)
	if dgain != nil {
		checkLen(op, "dgain", len(dgain), s.O)
	}
	n := float64(s.FanIn)
	c := make([]float64, s.FanIn)
	for o := 0; o < s.O; o++ {
		row := w[o*s.FanIn : (o+1)*s.FanIn]
		g := dwhat[o*s.FanIn : (o+1)*s.FanIn]
		mu, ss := wsRowStats(row)
		clamped := ss < DeepMindWSMinNVar
		rs := 1 / math.Sqrt(math.Max(ss, DeepMindWSMinNVar))
		sumG, sumCG := 0.0, 0.0
		for i, v := range row {
			c[i] = (float64(v) - mu) * rs
			sumG += float64(g[i])
			sumCG += c[i] * float64(g[i])
		}
		if dgain != nil {
			dgain[o] = T(sumCG)
		}
		if clamped {
			sumCG = 0
		}
		k := float64(gain[o]) * rs
		for i := range row {
			dw[o*s.FanIn+i] = T(k * (float64(g[i]) - sumG/n - c[i]*sumCG))
		}
	}
}

// WSTimm computes timm's scaled weight standardization (ScaledStdConv2d), per
// row o:
//
//	What_o = (W_o - mu) / sqrt(var + eps) * gain_o * gamma / sqrt(n)
//
// with the biased variance and n = FanIn. timm's default eps is TimmWSEps;
// gamma is 1 for the dm_nfnet models (it lives in the activation).
func WSTimm[T Float](s WSShape, w, gain []T, gamma, eps float64, what []T) {
	wsCheck("ws timm", s, w, gain)
	checkLen("ws timm", "what", len(what), s.O*s.FanIn)
	n := float64(s.FanIn)
	for o := 0; o < s.O; o++ {
		row := w[o*s.FanIn : (o+1)*s.FanIn]
		mu, ss := wsRowStats(row)
		scale := float64(gain[o]) * gamma / math.Sqrt(n) / math.Sqrt(ss/n+eps)
		for i, v := range row {
			what[o*s.FanIn+i] = T((float64(v) - mu) * scale)
		}
	}
}

// WSTimmBackward computes the gradients of WSTimm from dwhat = dL/dWhat.
// With sd = sqrt(var+eps), xhat = (W_o-mu)/sd, k = gain_o*gamma/sqrt(n) and
// D = k*dwhat_o (the gradient w.r.t. xhat):
//
//	dgain_o = gamma/sqrt(n) * sum(dwhat_o * xhat)
//	dW_o    = (D - mean(D) - xhat*mean(D*xhat)) / sd
//
// dgain may be nil.
func WSTimmBackward[T Float](s WSShape, w, gain []T, gamma, eps float64, dwhat, dw, dgain []T) {
	const op = "ws timm backward"
	wsCheck(op, s, w, gain)
	checkLen(op, "dwhat", len(dwhat), s.O*s.FanIn)
	checkLen(op, "dw", len(dw), s.O*s.FanIn)
	if dgain != nil {
		checkLen(op, "dgain", len(dgain), s.O)
	}
	n := float64(s.FanIn)
	xhat := make([]float64, s.FanIn)
	for o := 0; o < s.O; o++ {
		row := w[o*s.FanIn : (o+1)*s.FanIn]
		g := dwhat[o*s.FanIn : (o+1)*s.FanIn]
		mu, ss := wsRowStats(row)
		rsd := 1 / math.Sqrt(ss/n+eps)
		k := float64(gain[o]) * gamma / math.Sqrt(n)
		sumD, sumDX, sumGX := 0.0, 0.0, 0.0
		for i, v := range row {
			xhat[i] = (float64(v) - mu) * rsd
			d := k * float64(g[i])
			sumD += d
			sumDX += d * xhat[i]
			sumGX += float64(g[i]) * xhat[i]
		}
		if dgain != nil {
			dgain[o] = T(gamma / math.Sqrt(n) * sumGX)
		}
		for i := range row {
			d := k * float64(g[i])
			dw[o*s.FanIn+i] = T((d - sumD/n - xhat[i]*sumDX/n) * rsd)
		}
	}
}
