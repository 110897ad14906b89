package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Squeeze-excite pieces. The SE block is
//
//	m = GlobalAvgPool(h); z = fc2(relu(fc1(m))); y = gain*sigmoid(z)*h
//
// with the linears on GEMM and the ReLU on Activation(ref.ActReLU, 1).
// Here: the gate forward (shader se), the gate backward fused with the
// squeeze's global-mean backward (one elementwise pass writes the SE
// input's whole gradient), and the gate's logit gradient dz (shader
// pool_global, a per-plane reduction). Reference: ref.SEGate(Backward).

// SEGate records y = gain*sigmoid(z[n, c])*x[n, c, h, w]; z is [N, C]
// (ref.SEGain = 2 in NFNets).
func (k *Kernels) SEGate(p *engine.Program, s ref.NCHWShape, gain float32, z, x, y engine.Span) error {
	return k.SEGateOf(p, F32, s, gain, z, x, y)
}

// SEGateOf is SEGate with x and y stored as d (z stays float32).
func (k *Kernels) SEGateOf(p *engine.Program, d DType, s ref.NCHWShape, gain float32, z, x, y engine.Span) error {
	return k.seBroadcast(p, "se gate", d, s, true, gain, z, x, engine.Span{}, y)
}

// SEGateDZ records the gate's logit gradient
//
//	dz[n, c] = gain*s*(1-s) * sum over h, w of dy*x,  s = sigmoid(z[n, c])
//
// where x is the gate's input h and dy the gradient of its output.
func (k *Kernels) SEGateDZ(p *engine.Program, s ref.NCHWShape, gain float32, z, x, dy, dz engine.Span) error {
	return k.SEGateDZOf(p, F32, s, gain, z, x, dy, dz)
}

// SEGateDZOf is SEGateDZ with x and dy stored as d (z and dz stay
// float32).
func (k *Kernels) SEGateDZOf(p *engine.Program, d DType, s ref.NCHWShape, gain float32, z, x, dy, dz engine.Span) error {
	return k.planeReduce(p, "se gate dz", d, s, 1, gain, x, dy, z, dz)
}

// SEGateBackward records the gradient of the SE block's input h:
//
//	dx = gain*sigmoid(z[n, c])*dy + dmean[n, c]/(H*W)
//
// the gate's path plus the squeeze's (dmean = dL/d GlobalAvgPool(h), from
// the SE linears' backward), in one pass; with no dmean buffer only the
// gate's path. dx is overwritten; it may be dy.
func (k *Kernels) SEGateBackward(p *engine.Program, s ref.NCHWShape, gain float32, z, dy, dmean, dx engine.Span) error {
	return k.SEGateBackwardOf(p, F32, s, gain, z, dy, dmean, dx)
}

// SEGateBackwardOf is SEGateBackward with dy and dx stored as d (z and
// dmean stay float32).
func (k *Kernels) SEGateBackwardOf(p *engine.Program, d DType, s ref.NCHWShape, gain float32, z, dy, dmean, dx engine.Span) error {
	return k.seBroadcast(p, "se gate backward", d, s, true, gain, z, dy, dmean, dx)
}

// spanNeed is a span and the element count it must hold.
type spanNeed struct {
	name string
	s    engine.Span
	n    int
}

// seBroadcast records shader se: dst = [gain*sigmoid(z)*src] + [dm/HW],
// with src and dst stored as d.
func (k *Kernels) seBroadcast(p *engine.Program, op string, d DType, s ref.NCHWShape, gate bool, gain float32, z, src, dm, dst engine.Span) error {
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	name := fmt.Sprintf("%s %v", op, s)
	planes, hw := s.N*s.C, s.H*s.W
	// Activations in d, per-plane values in float32.
	act := []spanNeed{{"dst", dst, s.Len()}}
	var need []spanNeed
	if gate {
		act = append(act, spanNeed{"src", src, s.Len()})
		need = append(need, spanNeed{"z", z, planes})
	}
	if dm.Buf != nil || !gate {
		need = append(need, spanNeed{"dmean", dm, planes})
	}
	for _, a := range act {
		if err := needElemsOf(name, a.name, a.s, a.n, d); err != nil {
			return err
		}
	}
	for _, a := range need {
		if err := needElems(name, a.name, a.s, a.n); err != nil {
			return err
		}
	}
	eb := d.Size()
	chunks, err := k.poolChunksOf(name, planes, hw, d, 1, F32)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline(d.variant("se"), k.tune.ElementwiseLocal, flagU32(gate), flagU32(dm.Buf != nil), flagU32(k.runs()))
	if err != nil {
		return err
	}
	m, sh := divMagic(hw)
	for _, c := range chunks {
		np := c[1] - c[0]
		n := np * hw
		ds := dst.Sub(int64(eb*c[0]*hw), int64(eb*n)).Write()
		var xs, zs, dms engine.Arg
		if gate {
			xs = src.Sub(int64(eb*c[0]*hw), int64(eb*n)).Read()
			zs = z.Sub(int64(4*c[0]), int64(4*np)).Read()
			if src == dst { // in place
				xs.Access, ds.Access = engine.ReadWrite, engine.ReadWrite
			}
		}
		if dm.Buf != nil {
			dms = dm.Sub(int64(4*c[0]), int64(4*np)).Read()
		}
		// The shader declares all four bindings: give the ones this
		// variant never reads a span it reads anyway.
		if !gate {
			xs, zs = dms, dms
		}
		if dm.Buf == nil {
			dms = zs
		}
		groups := k.streamGroups(n, int(k.tune.ElementwiseMaxGroups))
		label := name
		if len(chunks) > 1 {
			label = fmt.Sprintf("%s planes [%d:%d]", name, c[0], c[1])
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(n).u(m).u(sh).f(gain).f(1/float32(hw)).i(hw),
			xs, zs, dms, ds); err != nil {
			return err
		}
	}
	return nil
}
