package kernels

import (
	"fmt"
	"math"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// The end of an NFNet block, out = shortcut + alpha*skip_gain*mask[n]*h,
// and its backward (shader residual); stochastic-depth masks and inverted
// dropout from the counter-based RNG (shader dropout, include/rng.glsl).
// References: ref.Residual(Backward), ref.DropPathMask, ref.Dropout.
//
// RNG and seeds: Philox4x32-10, bit-exact with ref.RandomBits. The seed is
// a uint64 in a buffer (8 bytes, little-endian: lo word then hi word),
// because a Program is recorded once and replayed every step: the host
// writes each step's seed there (WriteSeed) before Run, and writing the
// same seed again replays the step's masks exactly. The stream is a
// uint64 fixed at record time that names the call site (for example a
// block or layer index), so two ops of one step never share numbers;
// element i of a tensor is element i of its stream.

// WriteSeed stores a step's seed in the 8-byte seed span the RNG ops read.
func WriteSeed(seed engine.Span, v uint64) error {
	if seed.Buf == nil || seed.Size < 8 {
		return fmt.Errorf("write seed: span of %d bytes, need 8", seed.Size)
	}
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32), byte(v >> 40), byte(v >> 48), byte(v >> 56)}
	if err := seed.Buf.Write(seed.Off, b); err != nil {
		return fmt.Errorf("write seed: %w", err)
	}
	return nil
}

func seedArg(op string, seed engine.Span) (engine.Arg, error) {
	if seed.Buf == nil || seed.Size < 8 {
		return engine.Arg{}, fmt.Errorf("%s: seed span has %d bytes, needs 8 (a uint64)", op, seed.Size)
	}
	return seed.Sub(0, 8).Read(), nil
}

// DropPathMask records mask[n] = floor(keep + u_n) for n < N (1 or 0, no
// 1/keep rescale), u_n = ref.Uniform(seed, stream, n): stochastic depth's
// per-sample mask for Residual.
func (k *Kernels) DropPathMask(p *engine.Program, seed engine.Span, stream uint64, keep float64, mask engine.Span) error {
	op := fmt.Sprintf("drop path mask (keep %v)", keep)
	if !(keep >= 0 && keep <= 1) {
		return fmt.Errorf("%s: keep probability outside [0, 1]", op)
	}
	n, err := elems(op, "mask", mask)
	if err != nil {
		return err
	}
	sa, err := seedArg(op, seed)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline("dropout", k.tune.ElementwiseLocal, 1, flagU32(k.runs()))
	if err != nil {
		return err
	}
	return k.rngElementwise(p, op, pipe, n, sa, seed, mask, stream, ref.DropThreshold(1-keep), 1)
}

// Dropout records inverted dropout y = x * 1/(1-rate) where kept, else 0,
// element i kept iff ref.RandomBits(seed, stream, i)>>8 >=
// ref.DropThreshold(rate) (bit-exact with ref.Dropout). y may be x.
func (k *Kernels) Dropout(p *engine.Program, seed engine.Span, stream uint64, rate float64, x, y engine.Span) error {
	return k.dropout(p, fmt.Sprintf("dropout (rate %v)", rate), seed, stream, rate, x, y)
}

// DropoutBackward records dx = Dropout(dy) with the same seed, stream and
// rate as the forward (the mask is linear). dx may be dy.
func (k *Kernels) DropoutBackward(p *engine.Program, seed engine.Span, stream uint64, rate float64, dy, dx engine.Span) error {
	return k.dropout(p, fmt.Sprintf("dropout backward (rate %v)", rate), seed, stream, rate, dy, dx)
}

func (k *Kernels) dropout(p *engine.Program, op string, seed engine.Span, stream uint64, rate float64, x, y engine.Span) error {
	if !(rate >= 0 && rate <= 1) {
		return fmt.Errorf("%s: rate outside [0, 1]", op)
	}
	n, err := elems(op, "x", x)
	if err != nil {
		return err
	}
	if m, err := elems(op, "y", y); err != nil || m != n {
		return fmt.Errorf("%s: y has %d elements, x %d: %v", op, m, n, err)
	}
	sa, err := seedArg(op, seed)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline("dropout", k.tune.ElementwiseLocal, 0, flagU32(k.runs()))
	if err != nil {
		return err
	}
	return k.rngElementwise(p, op, pipe, n, sa, x, y, stream, ref.DropThreshold(rate), ref.DropoutScale[float32](rate))
}

// rngElementwise records the dropout shader over n elements in chunks
// that fit one binding; each chunk passes its first element's index in
// the stream, so the numbers do not depend on the split.
func (k *Kernels) rngElementwise(p *engine.Program, op string, pipe *pipe, n int, sa engine.Arg, x, y engine.Span, stream uint64, threshold uint32, scale float32) error {
	chunk := k.chunkElems() // a multiple of 64: every chunk starts on a Philox block
	for start := 0; start < n; start += chunk {
		m := min(chunk, n-start)
		xa := x.Sub(int64(4*start), int64(4*m)).Read()
		ya := y.Sub(int64(4*start), int64(4*m)).Write()
		if x == y { // in place
			xa.Access, ya.Access = engine.ReadWrite, engine.ReadWrite
		}
		if x == sa.Span { // mask: the x binding is unused, bind the seed
			xa = sa
		}
		groups := k.streamGroups(m, int(k.tune.ElementwiseMaxGroups))
		push := pushBuf(nil).i(m).u(uint32(start)).u(uint32(uint64(start) >> 32)).u(uint32(stream)).u(uint32(stream >> 32)).u(threshold).f(scale)
		label := op
		if n > chunk {
			label = fmt.Sprintf("%s[%d:%d]", op, start, start+m)
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, push, sa, xa, ya); err != nil {
			return err
		}
	}
	return nil
}

// residualMaxParts bounds the dskip_gain partials of ResidualBackward
// (one per workgroup on GPUs, per invocation on CPU devices): enough
// parallelism to fill the device, few enough that summing them is one
// short dispatch.
const residualMaxParts = 8192

// residualPartsPerGroup is 1 when a workgroup sums its partials (GPUs),
// else its size: CPU devices skip the barrier (see shader residual).
func (k *Kernels) residualPartsPerGroup() int {
	if k.tune.Class == "cpu" {
		return int(k.tune.ElementwiseLocal)
	}
	return 1
}

// runs reports whether streaming kernels give each invocation one
// contiguous run (FOR_EACH_RUN4 in include/ws_index.glsl: CPU devices)
// rather than interleaving lanes (GPUs).
func (k *Kernels) runs() bool { return k.tune.Class == "cpu" }

// runInvocations is the invocation count of a FOR_EACH_RUN4 grid: a few
// thousand streams keep every core of a CPU busy.
const runInvocations = 8192

// streamGroups is the workgroup count of a streaming kernel (one
// invocation per vec4, FOR_EACH_VEC4 or FOR_EACH_RUN4) over m elements,
// at most budget.
func (k *Kernels) streamGroups(m, budget int) int {
	if k.runs() {
		budget = min(budget, runInvocations/int(k.tune.ElementwiseLocal))
	}
	return max(1, min(ceilDiv(ceilDiv(m, 4), int(k.tune.ElementwiseLocal)), budget))
}

// residualGroups is the workgroup count of a residual dispatch over m
// elements.
func (k *Kernels) residualGroups(m int, backward bool) int {
	budget := int(k.tune.ElementwiseMaxGroups)
	if backward {
		budget = residualMaxParts / k.residualPartsPerGroup()
	}
	return k.streamGroups(m, budget)
}

// residualChunks splits n elements into dispatches that bind at most
// chunkElems elements per tensor.
func (k *Kernels) residualChunks(n int) [][2]int {
	var out [][2]int
	for start := 0; start < n; start += k.chunkElems() {
		out = append(out, [2]int{start, min(n, start+k.chunkElems())})
	}
	return out
}

// ResidualScratch is the scratch element count ResidualBackward needs for
// shape s on this device.
func (k *Kernels) ResidualScratch(s ref.NCHWShape) int {
	if s.Validate() != nil {
		return 0
	}
	total := 0
	for _, c := range k.residualChunks(s.Len()) {
		total += k.residualGroups(c[1]-c[0], true) * k.residualPartsPerGroup()
	}
	return total
}

// residualCheck validates the shape and the sizes of the spans (those in
// full hold the whole tensor, in elements of d).
func residualCheck(op string, d DType, s ref.NCHWShape, alpha float32, full []spanNeed, skip, mask engine.Span) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if int64(s.N)*int64(s.C)*int64(s.H)*int64(s.W) > math.MaxInt32 {
		return fmt.Errorf("%s %v: more than 2^31-1 elements", op, s)
	}
	if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) {
		return fmt.Errorf("%s %v: alpha %v is not finite", op, s, alpha)
	}
	name := fmt.Sprintf("%s %v", op, s)
	for _, sp := range full {
		if err := needElemsOf(name, sp.name, sp.s, s.Len(), d); err != nil {
			return err
		}
	}
	if err := needElems(name, "skip_gain", skip, 1); err != nil {
		return err
	}
	if mask.Buf != nil {
		if err := needElems(name, "mask", mask, s.N); err != nil {
			return err
		}
	}
	return nil
}

// Residual records out = shortcut + alpha*skipGain[0]*mask[n]*h over NCHW
// tensors of shape s. skipGain is a 1-element span (the parameter); mask
// holds N per-sample values (DropPathMask) or has no buffer for none. out
// may be shortcut or h (in place).
func (k *Kernels) Residual(p *engine.Program, s ref.NCHWShape, alpha float32, shortcut, h, skipGain, mask, out engine.Span) error {
	return k.ResidualOf(p, F32, s, alpha, shortcut, h, skipGain, mask, out)
}

// ResidualOf is Residual with shortcut, h and out stored as d (the math
// in float32; skipGain and mask stay float32).
func (k *Kernels) ResidualOf(p *engine.Program, d DType, s ref.NCHWShape, alpha float32, shortcut, h, skipGain, mask, out engine.Span) error {
	const op = "residual"
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	if err := residualCheck(op, d, s, alpha, []spanNeed{{name: "shortcut", s: shortcut}, {name: "h", s: h}, {name: "out", s: out}}, skipGain, mask); err != nil {
		return err
	}
	pipe, err := k.pipeline(d.variant("residual"), k.tune.ElementwiseLocal, 0, flagU32(mask.Buf != nil), 0, 0, flagU32(k.runs()))
	if err != nil {
		return err
	}
	sk, m := k.residualParams(s, skipGain, mask)
	mp, sp := divMagic(s.C * s.H * s.W)
	eb := int64(d.Size())
	for _, c := range k.residualChunks(s.Len()) {
		off, size := eb*int64(c[0]), eb*int64(c[1]-c[0])
		a, hh, o := shortcut.Sub(off, size).Read(), h.Sub(off, size).Read(), out.Sub(off, size).Write()
		if out == shortcut {
			a.Access, o.Access = engine.ReadWrite, engine.ReadWrite
		}
		if out == h {
			hh.Access, o.Access = engine.ReadWrite, engine.ReadWrite
		}
		groups := k.residualGroups(c[1]-c[0], false)
		label := fmt.Sprintf("%s %v [%d:%d]", op, s, c[0], c[1])
		// Bindings 5 and 6 are backward-only: bind out, which is written anyway.
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(c[1]-c[0]).i(c[0]).u(mp).u(sp).f(alpha).i(0),
			a, hh, sk, m, o, o, o); err != nil {
			return err
		}
	}
	return nil
}

// residualParams binds skip_gain and the mask (skip_gain again when there
// is none: the shader then reads no mask).
func (k *Kernels) residualParams(s ref.NCHWShape, skipGain, mask engine.Span) (engine.Arg, engine.Arg) {
	sk := skipGain.Sub(0, 4).Read()
	if mask.Buf == nil {
		return sk, sk
	}
	return sk, mask.Sub(0, int64(4*s.N)).Read()
}

// ResidualBackward records, for Residual with the same arguments,
//
//	dh = alpha*skipGain[0]*mask[n]*dout
//	dshortcut = dout (skipped when dshortcut has no buffer: dout itself is
//	            the shortcut's gradient, so callers usually alias it)
//	dskipGain[0] = alpha * sum(mask[n] * h * dout)
//
// in two dispatches: partials of the sum into scratch (ResidualScratch
// elements), then their sum. dh and dskipGain are overwritten, not
// accumulated.
func (k *Kernels) ResidualBackward(p *engine.Program, s ref.NCHWShape, alpha float32, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch engine.Span) error {
	return k.ResidualBackwardOf(p, F32, s, alpha, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch)
}

// ResidualBackwardOf is ResidualBackward with h, dout, dshortcut and dh
// stored as d (skipGain, mask, dskipGain and scratch stay float32).
func (k *Kernels) ResidualBackwardOf(p *engine.Program, d DType, s ref.NCHWShape, alpha float32, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch engine.Span) error {
	const op = "residual backward"
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	full := []spanNeed{{name: "h", s: h}, {name: "dout", s: dout}, {name: "dh", s: dh}}
	if dshortcut.Buf != nil {
		full = append(full, spanNeed{name: "dshortcut", s: dshortcut})
	}
	if err := residualCheck(op, d, s, alpha, full, skipGain, mask); err != nil {
		return err
	}
	name := fmt.Sprintf("%s %v", op, s)
	if err := needElems(name, "dskip_gain", dskipGain, 1); err != nil {
		return err
	}
	parts := k.ResidualScratch(s)
	if err := needElems(name, "scratch", scratch, parts); err != nil {
		return err
	}
	ppg := k.residualPartsPerGroup()
	pipe, err := k.pipeline(d.variant("residual"), k.tune.ElementwiseLocal, 1, flagU32(mask.Buf != nil), flagU32(dshortcut.Buf != nil), flagU32(ppg == 1), flagU32(k.runs()))
	if err != nil {
		return err
	}
	sk, m := k.residualParams(s, skipGain, mask)
	mp, sp := divMagic(s.C * s.H * s.W)
	at := 0
	eb := int64(d.Size())
	for _, c := range k.residualChunks(s.Len()) {
		off, size := eb*int64(c[0]), eb*int64(c[1]-c[0])
		groups := k.residualGroups(c[1]-c[0], true)
		dha := dh.Sub(off, size).Write()
		ds := dha // unused without dshortcut: dh is written anyway
		if dshortcut.Buf != nil {
			ds = dshortcut.Sub(off, size).Write()
		}
		label := fmt.Sprintf("%s [%d:%d]", name, c[0], c[1])
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(c[1]-c[0]).i(c[0]).u(mp).u(sp).f(alpha).i(at),
			dout.Sub(off, size).Read(), h.Sub(off, size).Read(), sk, m, dha, ds, scratch.Sub(0, int64(4*parts)).Write()); err != nil {
			return err
		}
		at += groups * ppg
	}
	return k.ReduceRows(p, ReduceSum, scratch, 1, parts, dskipGain)
}
