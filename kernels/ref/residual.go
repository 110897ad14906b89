package ref

// ResidualAlpha is NFNet's alpha: out = shortcut + alpha * skip_gain * h.
const ResidualAlpha = 0.2

// Residual computes the end of an NFNet block,
//
//	out[n,...] = shortcut[n,...] + alpha * skipGain * mask[n] * h[n,...]
//
// with mask the per-sample stochastic-depth mask (DropPathMask, length N) or
// nil for none (inference, or a zero drop rate). skipGain is the block's
// scalar skipinit gain. out may alias shortcut or h.
func Residual[T Float](s NCHWShape, alpha, skipGain float64, shortcut, h, mask, out []T) {
	const op = "residual"
	mustValidateOp(op, s)
	checkLen(op, "shortcut", len(shortcut), s.Len())
	checkLen(op, "h", len(h), s.Len())
	checkLen(op, "out", len(out), s.Len())
	if mask != nil {
		checkLen(op, "mask", len(mask), s.N)
	}
	per := s.C * s.H * s.W
	for n := 0; n < s.N; n++ {
		k := alpha * skipGain
		if mask != nil {
			k *= float64(mask[n])
		}
		for i := n * per; i < (n+1)*per; i++ {
			out[i] = T(float64(shortcut[i]) + k*float64(h[i]))
		}
	}
}

// ResidualBackward computes the gradients of Residual from dout:
//
//	dshortcut = dout
//	dh[n,...] = alpha * skipGain * mask[n] * dout[n,...]
//	dskipGain = alpha * sum over all elements of mask[n] * h * dout   (returned)
//
// dshortcut or dh may be nil when not wanted; mask nil means all ones.
func ResidualBackward[T Float](s NCHWShape, alpha, skipGain float64, h, mask, dout, dshortcut, dh []T) (dskipGain float64) {
	const op = "residual backward"
	mustValidateOp(op, s)
	checkLen(op, "h", len(h), s.Len())
	checkLen(op, "dout", len(dout), s.Len())
	if mask != nil {
		checkLen(op, "mask", len(mask), s.N)
	}
	if dshortcut != nil {
		checkLen(op, "dshortcut", len(dshortcut), s.Len())
		copy(dshortcut, dout)
	}
	if dh != nil {
		checkLen(op, "dh", len(dh), s.Len())
	}
	per := s.C * s.H * s.W
	sum := 0.0
	for n := 0; n < s.N; n++ {
		m := 1.0
		if mask != nil {
			m = float64(mask[n])
		}
		for i := n * per; i < (n+1)*per; i++ {
			sum += m * float64(h[i]) * float64(dout[i])
			if dh != nil {
				dh[i] = T(alpha * skipGain * m * float64(dout[i]))
			}
		}
	}
	return alpha * sum
}
