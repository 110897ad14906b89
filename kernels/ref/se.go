package ref

// SEGain is the squeeze-excite gate's gain in NFNets: 2 * sigmoid(z) * h.
const SEGain = 2.0

// SEGate computes the squeeze-excite gate y[n,c,h,w] = gain *
// sigmoid(z[n,c]) * x[n,c,h,w], z being the excite logits (the output of the
// second SE linear, shaped [N, C]). The SE linears are Linear/GEMM, its
// hidden ReLU Activate(ActReLU, 1, ...).
func SEGate[T Float](s NCHWShape, gain float64, z, x, y []T) {
	const op = "se gate"
	mustValidateOp(op, s)
	checkLen(op, "z", len(z), s.N*s.C)
	checkLen(op, "x", len(x), s.Len())
	checkLen(op, "y", len(y), s.Len())
	hw := s.H * s.W
	for p, zv := range z {
		g := gain * sigmoid(float64(zv))
		for i := p * hw; i < (p+1)*hw; i++ {
			y[i] = T(g * float64(x[i]))
		}
	}
}

// SEGateBackward computes the gradients of SEGate from dy:
//
//	dx[n,c,h,w] = gain * sigmoid(z[n,c]) * dy[n,c,h,w]
//	dz[n,c]     = gain * sigmoid(z)(1-sigmoid(z)) * sum over h,w of dy*x
//
// dz or dx may be nil when not wanted.
func SEGateBackward[T Float](s NCHWShape, gain float64, z, x, dy, dz, dx []T) {
	const op = "se gate backward"
	mustValidateOp(op, s)
	checkLen(op, "z", len(z), s.N*s.C)
	checkLen(op, "x", len(x), s.Len())
	checkLen(op, "dy", len(dy), s.Len())
	if dz != nil {
		checkLen(op, "dz", len(dz), s.N*s.C)
	}
	if dx != nil {
		checkLen(op, "dx", len(dx), s.Len())
	}
	hw := s.H * s.W
	for p, zv := range z {
		sg := sigmoid(float64(zv))
		sum := 0.0
		for i := p * hw; i < (p+1)*hw; i++ {
			sum += float64(dy[i]) * float64(x[i])
			if dx != nil {
				dx[i] = T(gain * sg * float64(dy[i]))
			}
		}
		if dz != nil {
			dz[p] = T(gain * sg * (1 - sg) * sum)
		}
	}
}
