package kernels

import (
	"fmt"
	"math"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Scaled weight standardization (WS), forward and backward, both the
// DeepMind and the timm formula, with the gain's gradient; fp32 mean and
// variance. Shaders: ws, ws_backward (one workgroup per output channel,
// two-pass, workgroup sums in include/ws_reduce.glsl: GPUs) and ws_lane
// (a subgroup per output channel holding it in registers, or one
// invocation per output channel with one statistics pass, both shifted by
// the row's first weight, since every load costs there: CPU devices). References:
// ref.WSDeepMind(Backward), ref.WSTimm(Backward).

// WSFormula selects the standardization formula (../shared/spec/NFNET.md §3).
type WSFormula struct {
	// Timm selects timm's (W-mu)/sqrt(var+Eps) * gain * Gamma/sqrt(n);
	// false is DeepMind's (W-mu) * gain * rsqrt(max(n*var, 1e-4)).
	Timm bool
	// Gamma and Eps are used by the timm formula only.
	Gamma, Eps float32
}

// WSDeepMind is DeepMind's formula.
var WSDeepMind = WSFormula{}

// WSTimm is timm's formula with its gamma (1 for the dm_ models) and eps
// (ref.TimmWSEps by default).
func WSTimm(gamma, eps float32) WSFormula { return WSFormula{Timm: true, Gamma: gamma, Eps: eps} }

func (f WSFormula) String() string {
	if f.Timm {
		return fmt.Sprintf("timm(gamma %g, eps %g)", f.Gamma, f.Eps)
	}
	return "deepmind"
}

// rowLocal is the workgroup size of the row kernels (WS, loss): the
// workgroup per row on GPUs (the reduction tuning), one subgroup on CPU
// devices, whose row kernels run a row per invocation (before that
// change, the workgroup-per-row WS 256x1152 took 0.9 ms with 8 lanes,
// 2.0 ms with 16, 7.3 ms with 64 on lavapipe: barriers are costly there).
func (k *Kernels) rowLocal() uint32 {
	if k.tune.Class == "cpu" {
		return max(8, min(k.dev.Info().SubgroupSize, 32))
	}
	return k.tune.ReduceLocal
}

// wsLanePerRow selects shader ws_lane (one invocation per row) over ws and
// ws_backward (one workgroup per row): on CPU devices, where a workgroup
// that reduces pays for its barriers and its launch per row.
func (k *Kernels) wsLanePerRow() bool { return k.tune.Class == "cpu" }

// wsMaxJ is ws_lane's MAXJ: the most vec4s of a row that each lane holds
// in registers in the shader's subgroup-per-row form (REGS).
const wsMaxJ = 48

// wsRegGroups caps the workgroups of the subgroup-per-row form, which
// loop over their rows: on lavapipe (2 threads) 8 and 32 workgroups ran
// alike, 128 and 384 up to 15% slower, one per row (1536) 30% slower.
const wsRegGroups = 32

// wsRegs selects ws_lane's subgroup-per-row form (REGS) for shape s: each
// lane holds its part of the row in registers, so the row is loaded once
// (backward: w and G once each) instead of twice, 5-30% faster on
// lavapipe than the row-per-lane form. It needs subgroup sums, workgroups
// of whole subgroups, F % 4 == 0 and F <= 4*wsMaxJ*subgroup size (1536
// with 8 lanes: NFNet's 3x3 convs of group width 128, F = 1152, and 1x1
// convs from 1536 channels).
func (k *Kernels) wsRegs(s ref.WSShape) bool {
	info := k.dev.Info()
	sg := int(info.SubgroupSize)
	return k.wsLanePerRow() && info.SubgroupArithmetic && sg > 0 && int(k.rowLocal())%sg == 0 &&
		s.FanIn%4 == 0 && s.FanIn/4 <= wsMaxJ*sg
}

// wsJ is ws_lane's JCOUNT for shape s: the vec4s per lane the REGS form
// unrolls (a pipeline per value: its JIT takes ~0.3 s on lavapipe).
func (k *Kernels) wsJ(s ref.WSShape) uint32 {
	if !k.wsRegs(s) {
		return wsMaxJ
	}
	return uint32(ceilDiv(s.FanIn/4, int(k.dev.Info().SubgroupSize)))
}

// wsGrid is the workgroup count of a WS dispatch of shape s.
func (k *Kernels) wsGrid(s ref.WSShape) [3]uint32 {
	O := s.O
	if k.wsRegs(s) {
		rowsPerGroup := int(k.rowLocal()) / int(k.dev.Info().SubgroupSize)
		return [3]uint32{uint32(min(ceilDiv(O, rowsPerGroup), wsRegGroups)), 1, 1}
	}
	if k.wsLanePerRow() {
		return [3]uint32{uint32(min(ceilDiv(O, int(k.rowLocal())), 65535)), 1, 1}
	}
	return [3]uint32{uint32(min(O, 65535)), 1, 1}
}

// wsCheck validates a WS call's shape, formula and spans.
func (k *Kernels) wsCheck(op string, s ref.WSShape, f WSFormula, spans []spanNeed) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if f.Timm && (!(f.Eps >= 0) || math.IsInf(float64(f.Eps), 0) || math.IsNaN(float64(f.Gamma))) {
		return fmt.Errorf("%s %dx%d: timm eps %g must be finite and >= 0, gamma %g not NaN", op, s.O, s.FanIn, f.Eps, f.Gamma)
	}
	name := fmt.Sprintf("%s %dx%d", op, s.O, s.FanIn)
	for _, sp := range spans {
		if err := needElems(name, sp.name, sp.s, sp.n); err != nil {
			return err
		}
	}
	if lim := int64(k.dev.Info().MaxStorageBufferRange); int64(4*s.O*s.FanIn) > lim {
		return fmt.Errorf("%s: %d bytes of weights exceed maxStorageBufferRange %d", name, 4*s.O*s.FanIn, lim)
	}
	return nil
}

func wsPush(s ref.WSShape, f WSFormula) pushBuf {
	g, eps := float32(0), float32(0)
	if f.Timm {
		g = float32(float64(f.Gamma) / math.Sqrt(float64(s.FanIn)))
		eps = f.Eps
	}
	return pushBuf(nil).i(s.O).i(s.FanIn).f(g).f(eps)
}

// flagU32 is a bool as a specialization constant.
func flagU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// WS records what = standardize(w) * gain per output channel: w and what
// are [O, FanIn] (OIHW conv weights flattened), gain is [O].
func (k *Kernels) WS(p *engine.Program, s ref.WSShape, f WSFormula, w, gain, what engine.Span) error {
	return k.WSOf(p, F32, s, f, w, gain, what)
}

// WSOf is WS storing what as d (the statistics stay float32; w and gain
// are float32 parameters).
func (k *Kernels) WSOf(p *engine.Program, d DType, s ref.WSShape, f WSFormula, w, gain, what engine.Span) error {
	const op = "ws"
	n := s.O * s.FanIn
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	if err := k.wsCheck(op, s, f, []spanNeed{{"w", w, n}, {"gain", gain, s.O}}); err != nil {
		return err
	}
	if m, err := elemsOf(op, "what", what, d); err != nil || m < n {
		return fmt.Errorf("ws %dx%d: what holds %d elements of %v, needs %d: %v", s.O, s.FanIn, m, d, n, err)
	}
	label := fmt.Sprintf("ws %v %dx%d", f, s.O, s.FanIn)
	wa, ga, ya := w.Sub(0, int64(4*n)).Read(), gain.Sub(0, int64(4*s.O)).Read(), what.Sub(0, int64(d.Size()*n)).Write()
	if k.wsLanePerRow() {
		pipe, err := k.pipeline(d.variant("ws_lane"), k.rowLocal(), flagU32(f.Timm), 0, 0, flagU32(k.wsRegs(s)), k.wsJ(s))
		if err != nil {
			return err
		}
		// Forward writes binding 3; 2 and 4 are the backward's (unused).
		return k.dispatch(p, label, pipe, k.wsGrid(s), wsPush(s, f), wa, ga, wa, ya, ya)
	}
	pipe, err := k.pipeline(d.variant("ws"), k.rowLocal(), flagU32(f.Timm))
	if err != nil {
		return err
	}
	return k.dispatch(p, label, pipe, k.wsGrid(s), wsPush(s, f), wa, ga, ya)
}

// WSBackward records dw (and dgain, unless dgain.Buf is nil) from
// dwhat = dL/dwhat for WS with the same formula. dw and dgain are
// overwritten, not accumulated.
func (k *Kernels) WSBackward(p *engine.Program, s ref.WSShape, f WSFormula, w, gain, dwhat, dw, dgain engine.Span) error {
	const op = "ws backward"
	nw := s.O * s.FanIn
	spans := []spanNeed{{"w", w, nw}, {"gain", gain, s.O}, {"dwhat", dwhat, nw}, {"dw", dw, nw}}
	if dgain.Buf != nil {
		spans = append(spans, spanNeed{"dgain", dgain, s.O})
	}
	if err := k.wsCheck(op, s, f, spans); err != nil {
		return err
	}
	name, spec := "ws_backward", []uint32{k.rowLocal(), flagU32(f.Timm), flagU32(dgain.Buf != nil)}
	if k.wsLanePerRow() {
		name, spec = "ws_lane", append(spec, 1, flagU32(k.wsRegs(s)), k.wsJ(s))
	}
	pipe, err := k.pipeline(name, spec...)
	if err != nil {
		return err
	}
	n := int64(4 * s.O * s.FanIn)
	g := gain.Sub(0, int64(4*s.O)).Read()
	// Without dgain, binding 4 (declared writable in the shader, which
	// the synchronization validation counts as a write) gets dw's first O
	// floats, which this dispatch writes anyway; the shader leaves it alone.
	dg := dw.Sub(0, int64(4*s.O)).Write()
	if dgain.Buf != nil {
		dg = dgain.Sub(0, int64(4*s.O)).Write()
	}
	return k.dispatch(p, fmt.Sprintf("ws backward %v %dx%d", f, s.O, s.FanIn), pipe, k.wsGrid(s), wsPush(s, f),
		w.Sub(0, n).Read(), g, dwhat.Sub(0, n).Read(), dw.Sub(0, n).Write(), dg)
}
