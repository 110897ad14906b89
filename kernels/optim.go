package kernels

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
)

// The optimizer on the GPU: AGC, weight decay and SGD with (Nesterov)
// momentum fused into one pass over each parameter tensor, and the weight
// EMA. Shaders: optim_sgd (one tensor), optim_sgd_multi (many tensors in
// one dispatch through a table), optim_ema; shared GLSL in
// include/optim.glsl and include/optim_hyper.glsl. Reference: agc.SGD.Step
// and agc.EMAUpdate.
//
// Per-step scalars (learning rate, momentum, ...) are read from a small
// device buffer, the hyper buffer, not from push constants: a training
// step is recorded once and replayed, and the host rewrites the hyper
// buffer (WriteHyper) between runs, after the previous run has finished.

// HyperBytes is the size of the hyper buffer: agc.Hyper's encoding (its
// layout is documented there and in include/optim_hyper.glsl).
const HyperBytes = agc.HyperBytes

// WriteHyper writes h into the first HyperBytes of dst, from the host.
// Call it between runs of the programs that read dst, never while one is
// in flight.
func WriteHyper(dst engine.Span, h agc.Hyper) error {
	b, err := h.Encode()
	if err != nil {
		return err
	}
	if dst.Buf == nil || dst.Size < HyperBytes {
		return fmt.Errorf("hyper: span of %d bytes, needs %d", dst.Size, HyperBytes)
	}
	if err := dst.Buf.Write(dst.Off, b); err != nil {
		return fmt.Errorf("hyper: %w", err)
	}
	return nil
}

// OptimTensor is one parameter tensor for the optimizer step.
type OptimTensor struct {
	// Name appears in errors.
	Name string
	// Shape gives the element count (a 0-d skip gain has 1).
	Shape []int
	// Param and Momentum are updated in place; Grad is only read (unlike
	// agc.SGD.Step, the clipped gradient is not written back: keeping it
	// in registers is what makes the step one pass).
	Param, Grad, Momentum engine.Span
	// WeightDecay applies the hyper buffer's weight decay (weights yes;
	// gains, biases and skip gains no: nfnet.ParamSpec.WeightDecay).
	WeightDecay bool
	// AGC clips the tensor (false for the excluded classifier).
	AGC bool
	// Units is the number of AGC units, each of numel/Units consecutive
	// elements; UnitsOf gives it for a unit rule. Needed when AGC is set.
	Units int
}

// UnitsOf returns the AGC unit count of a tensor of shape under rule:
// DeepMind: one unit per output index for tensors with more than one
// non-unit dimension, else one; timm: one unit for ndim <= 1, else one
// per index of dimension 0.
func UnitsOf(shape []int, rule agc.UnitRule) (int, error) {
	units, _, err := agc.Units(shape, rule)
	if err != nil {
		return 0, fmt.Errorf("optimizer: units of %v: %w", shape, err)
	}
	return units, nil
}

// Entry flags, as in include/optim.glsl.
const (
	optWD    = 1
	optAGC   = 2
	optV4    = 4
	optSmall = 8
)

// optChunk is the work unit, in elements, of a tensor without AGC: its
// elements spread over many workgroups.
const optChunk = 4096

// optSmallUnit is the largest AGC unit processed by one invocation alone
// (no workgroup reduction, no barrier): timm's rule makes every element of
// an (O,1,1,1) gain its own unit.
const optSmallUnit = 16

// optEntryWords is the size of one table entry in uint32s.
const optEntryWords = 8

// OptimTableBytes is the table size OptimizerSteps needs for n tensors.
func OptimTableBytes(n int) int64 { return int64(4 * optEntryWords * n) }

// optEntry mirrors Entry of include/optim.glsl.
type optEntry struct {
	first, units, size, n, pOff, gOff, mOff, flags uint32
}

func (e optEntry) words() []uint32 {
	return []uint32{e.first, e.units, e.size, e.n, e.pOff, e.gOff, e.mOff, e.flags}
}

// checkTensor validates t and returns its element count.
func checkTensor(op string, t OptimTensor) (int, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 1 || n > math.MaxUint32/d {
			return 0, fmt.Errorf("%s: tensor %q: shape %v: want dimensions >= 1 and fewer than 2^32 elements", op, t.Name, t.Shape)
		}
		n *= d
	}
	for _, s := range []struct {
		name string
		s    engine.Span
	}{{"param", t.Param}, {"grad", t.Grad}, {"momentum", t.Momentum}} {
		got, err := elems(op, fmt.Sprintf("tensor %q: %s", t.Name, s.name), s.s)
		if err != nil {
			return 0, err
		}
		if got != n {
			return 0, fmt.Errorf("%s: tensor %q: %s holds %d elements, shape %v has %d", op, t.Name, s.name, got, t.Shape, n)
		}
		if s.s.Off%4 != 0 {
			return 0, fmt.Errorf("%s: tensor %q: %s starts at byte %d, not a float32 boundary", op, t.Name, s.name, s.s.Off)
		}
	}
	if t.AGC && (t.Units < 1 || n%t.Units != 0) {
		return 0, fmt.Errorf("%s: tensor %q: %d AGC units do not divide its %d elements (kernels.UnitsOf gives them)", op, t.Name, t.Units, n)
	}
	return n, nil
}

// namedSpan is a span with a description, for overlap errors.
type namedSpan struct {
	what string
	s    engine.Span
}

// checkDisjoint fails when two of the spans share a byte: the kernels
// write parameters and momentum in place while reading the rest.
func checkDisjoint(op string, spans []namedSpan) error {
	byBuf := map[*engine.Buffer][]namedSpan{}
	for _, s := range spans {
		byBuf[s.s.Buf] = append(byBuf[s.s.Buf], s)
	}
	for _, ss := range byBuf {
		slices.SortFunc(ss, func(a, b namedSpan) int { return cmp.Compare(a.s.Off, b.s.Off) })
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			if b.s.Off < a.s.Off+a.s.Size {
				return fmt.Errorf("%s: %s and %s overlap in buffer %q", op, a.what, b.what, a.s.Buf.Name())
			}
		}
	}
	return nil
}

// bindRange returns the span to bind for bytes [start, end) of buf (start
// rounded down to the device's offset alignment, so any float32-aligned
// tensor can be bound) and the element offset of start inside it.
func (k *Kernels) bindRange(op, what string, buf *engine.Buffer, start, end int64) (engine.Span, uint32, error) {
	align := int64(k.dev.Info().MinStorageBufferOffsetAlignment)
	if align < 4 {
		align = 4
	}
	base := start / align * align
	s := engine.Span{Buf: buf, Off: base, Size: end - base}
	if s.Size > int64(k.dev.Info().MaxStorageBufferRange) {
		return engine.Span{}, 0, fmt.Errorf("%s: %s spans %d bytes, more than maxStorageBufferRange %d: split it", op, what, s.Size, k.dev.Info().MaxStorageBufferRange)
	}
	return s, uint32((start - base) / 4), nil
}

// entry plans tensor t (n elements) as work units at element offsets
// pOff, gOff, mOff of the bound spans.
func (k *Kernels) entry(t OptimTensor, n int, pOff, gOff, mOff uint32) optEntry {
	e := optEntry{n: uint32(n), pOff: pOff, gOff: gOff, mOff: mOff}
	if t.WeightDecay {
		e.flags |= optWD
	}
	if t.AGC {
		e.flags |= optAGC
		e.size = uint32(n / t.Units)
		e.units = uint32(t.Units)
		if e.size <= optSmallUnit {
			e.flags |= optSmall
			e.units = uint32(ceilDiv(t.Units, int(k.optLocal())))
		}
	} else {
		e.size = optChunk
		e.units = uint32(ceilDiv(n, optChunk))
	}
	if e.flags&optSmall == 0 && pOff%4 == 0 && gOff%4 == 0 && mOff%4 == 0 && (e.units == 1 || e.size%4 == 0) {
		e.flags |= optV4
	}
	return e
}

// optLocalOverride, when not 0, replaces optLocal's choice: tests use it
// to run the flat and tree reductions of other device classes on
// lavapipe.
var optLocalOverride uint32

// optLocal is the optimizer's workgroup size. On CPU devices (lavapipe)
// it is one subgroup: a workgroup of several subgroups runs them as
// coroutines that switch at every barrier(), and one AGC unit per
// workgroup needs one barrier per unit; measured on lavapipe for a
// 1536x128x3x3 weight, 64 invocations took 3-10x the time of 8. Elsewhere
// the reduction size of the tuning table.
func (k *Kernels) optLocal() uint32 {
	if optLocalOverride != 0 {
		return optLocalOverride
	}
	if s := k.dev.Info().SubgroupSize; k.tune.Class == "cpu" && s >= 4 && s <= k.tune.ReduceLocal && s&(s-1) == 0 {
		return s
	}
	return k.tune.ReduceLocal
}

// optGroups is the workgroup count of a grid of units work units.
func (k *Kernels) optGroups(units uint32) uint32 {
	return min(units, k.tune.ElementwiseMaxGroups, k.dev.Info().MaxWorkgroupCount[0])
}

// checkHyper validates the hyper span.
func checkHyper(op string, hyper engine.Span) error {
	if hyper.Buf == nil || hyper.Size < HyperBytes {
		return fmt.Errorf("%s: hyper span of %d bytes, needs %d", op, hyper.Size, HyperBytes)
	}
	return nil
}

// OptimizerStep records the fused optimizer step of one tensor, in one
// dispatch: per AGC unit (one workgroup each) the norms of its parameter
// and gradient, the clip factor, then the update of every element,
// reading the per-step scalars from hyper (HyperBytes; see Hyper).
func (k *Kernels) OptimizerStep(p *engine.Program, t OptimTensor, hyper engine.Span) error {
	op := fmt.Sprintf("optimizer step %q", t.Name)
	n, err := checkTensor(op, t)
	if err != nil {
		return err
	}
	if err := checkHyper(op, hyper); err != nil {
		return err
	}
	hyper = hyper.Sub(0, HyperBytes)
	if err := checkDisjoint(op, []namedSpan{{"param", t.Param}, {"grad", t.Grad}, {"momentum", t.Momentum}, {"hyper", hyper}}); err != nil {
		return err
	}
	var bound [3]engine.Span
	var offs [3]uint32
	for i, s := range []engine.Span{t.Param, t.Grad, t.Momentum} {
		if bound[i], offs[i], err = k.bindRange(op, [...]string{"param", "grad", "momentum"}[i], s.Buf, s.Off, s.Off+s.Size); err != nil {
			return err
		}
	}
	e := k.entry(t, n, offs[0], offs[1], offs[2])
	pipe, err := k.pipeline("optim_sgd", k.optLocal())
	if err != nil {
		return err
	}
	push := pushBuf(nil).u(e.units).u(e.size).u(e.n).u(e.flags).u(e.pOff).u(e.gOff).u(e.mOff)
	return k.dispatch(p, op, pipe, [3]uint32{k.optGroups(e.units), 1, 1}, push,
		hyper.Read(), bound[0].ReadWrite(), bound[1].Read(), bound[2].ReadWrite())
}

// OptimizerSteps records the fused step of many tensors in one dispatch
// (lavapipe pays ~35 us per dispatch; an NFNet has hundreds of small gain
// and bias tensors). Every tensor's Param must lie in one buffer, every
// Grad in one buffer and every Momentum in one buffer (the same one or
// not), each role's extent within maxStorageBufferRange. table must hold
// OptimTableBytes(len(ts)) bytes; it is written now, from the host, and
// must stay untouched while the program lives.
func (k *Kernels) OptimizerSteps(p *engine.Program, ts []OptimTensor, hyper, table engine.Span) error {
	op := fmt.Sprintf("optimizer step [%d tensors]", len(ts))
	if len(ts) == 0 {
		return fmt.Errorf("%s: no tensors", op)
	}
	if err := checkHyper(op, hyper); err != nil {
		return err
	}
	hyper = hyper.Sub(0, HyperBytes)
	tb := OptimTableBytes(len(ts))
	if table.Buf == nil || table.Size < tb || table.Off%4 != 0 {
		return fmt.Errorf("%s: table span of %d bytes at offset %d, needs %d float32-aligned bytes", op, table.Size, table.Off, tb)
	}
	table = table.Sub(0, tb)

	ns := make([]int, len(ts))
	spans := []namedSpan{{"hyper", hyper}, {"table", table}}
	// lo/hi track each role's byte extent: the bound span covers it.
	var bufs [3]*engine.Buffer
	var lo, hi [3]int64
	names := make(map[string]bool, len(ts))
	for i, t := range ts {
		n, err := checkTensor(op, t)
		if err != nil {
			return err
		}
		if names[t.Name] {
			return fmt.Errorf("%s: tensor %q given twice", op, t.Name)
		}
		names[t.Name] = true
		ns[i] = n
		for r, s := range []engine.Span{t.Param, t.Grad, t.Momentum} {
			role := [...]string{"param", "grad", "momentum"}[r]
			spans = append(spans, namedSpan{fmt.Sprintf("tensor %q %s", t.Name, role), s})
			if i == 0 {
				bufs[r], lo[r], hi[r] = s.Buf, s.Off, s.Off+s.Size
				continue
			}
			if s.Buf != bufs[r] {
				return fmt.Errorf("%s: tensor %q: %s in buffer %q, tensor %q's in %q: one dispatch binds one buffer per role",
					op, t.Name, role, s.Buf.Name(), ts[0].Name, bufs[r].Name())
			}
			lo[r], hi[r] = min(lo[r], s.Off), max(hi[r], s.Off+s.Size)
		}
	}
	if err := checkDisjoint(op, spans); err != nil {
		return err
	}
	var bound [3]engine.Span
	var base [3]uint32
	for r := range bound {
		var err error
		if bound[r], base[r], err = k.bindRange(op, [...]string{"params", "grads", "momentum buffers"}[r], bufs[r], lo[r], hi[r]); err != nil {
			return err
		}
	}
	// Element offsets are relative to the bound spans, whose start is
	// base elements before the lowest tensor.
	rel := func(r int, s engine.Span) uint32 { return base[r] + uint32((s.Off-lo[r])/4) }
	words := make([]uint32, 0, optEntryWords*len(ts))
	var total uint64
	unitWork := 0 // the longest unit's lane work
	for i, t := range ts {
		e := k.entry(t, ns[i], rel(0, t.Param), rel(1, t.Grad), rel(2, t.Momentum))
		unitWork = max(unitWork, optimUnitWork(int(e.size), int(k.optLocal()), e.flags&optSmall != 0))
		e.first = uint32(total)
		total += uint64(e.units)
		if total > math.MaxUint32 {
			return fmt.Errorf("%s: more than 2^32 work units", op)
		}
		words = append(words, e.words()...)
	}
	b := make([]byte, 0, tb)
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	if err := table.Buf.Write(table.Off, b); err != nil {
		return fmt.Errorf("%s: writing the table: %w", op, err)
	}
	pipe, err := k.pipeline("optim_sgd_multi", k.optLocal())
	if err != nil {
		return err
	}
	push := pushBuf(nil).i(len(ts)).u(uint32(total))
	groups := k.optGroups(uint32(total))
	// Each workgroup's units, each at most the longest, plus the binary
	// search of the table per unit.
	iters := ceilDiv(int(total), int(groups)) * (unitWork + bits.Len(uint(len(ts))))
	return k.dispatchWork(p, op, pipe, [3]uint32{groups, 1, 1}, push, iters,
		hyper.Read(), bound[0].ReadWrite(), bound[1].Read(), bound[2].ReadWrite(), table.Read())
}

// EMAUpdate records ema = d*ema + (1-d)*param element-wise, with d from
// the hyper buffer (Hyper.EMADecay). Over a whole parameter arena it is
// one dispatch per maxStorageBufferRange chunk.
func (k *Kernels) EMAUpdate(p *engine.Program, ema, param, hyper engine.Span) error {
	const op = "ema update"
	n, err := elems(op, "param", param)
	if err != nil {
		return err
	}
	if m, err := elems(op, "ema", ema); err != nil || m != n {
		return fmt.Errorf("%s: ema has %d elements, param %d: %v", op, m, n, err)
	}
	if err := checkHyper(op, hyper); err != nil {
		return err
	}
	hyper = hyper.Sub(0, HyperBytes)
	if err := checkDisjoint(op, []namedSpan{{"ema", ema}, {"param", param}, {"hyper", hyper}}); err != nil {
		return err
	}
	pipe, err := k.pipeline("optim_ema", k.tune.ElementwiseLocal)
	if err != nil {
		return err
	}
	chunk := k.chunkElems()
	for start := 0; start < n; start += chunk {
		m := min(chunk, n-start)
		label := op
		if n > chunk {
			label = fmt.Sprintf("%s[%d:%d]", op, start, start+m)
		}
		groups := min(ceilDiv(ceilDiv(m, 4), int(k.tune.ElementwiseLocal)), int(k.tune.ElementwiseMaxGroups))
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(m), hyper.Read(),
			ema.Sub(int64(4*start), int64(4*m)).ReadWrite(), param.Sub(int64(4*start), int64(4*m)).Read()); err != nil {
			return err
		}
	}
	return nil
}
