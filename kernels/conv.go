package kernels

import (
	"fmt"
	"strings"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Grouped 2-D convolution: forward (with optional bias), backward-data,
// backward-filter and the bias gradient. NCHW activations, OIHW weights,
// groups from 1 (dense) to C (depthwise), any stride, kernel size and
// explicit asymmetric padding. Shaders: conv2d_direct (forward and
// backward-data), conv2d_filter (backward-filter), conv2d_bias_grad.
// References: ref.Conv2D, ref.Conv2DBackwardData, ref.Conv2DBackwardFilter,
// ref.Conv2DBackwardBias. The strategy and tile of every pass are chosen
// in convPlan.

// Conv2DShape describes a convolution; see ref.Conv2DShape.
type Conv2DShape = ref.Conv2DShape

// convTile is one tile configuration of the conv shaders (their
// specialization constants): WG invocations per workgroup, each computing
// TO output channels at TP positions (pixels for conv2d_direct, filter
// taps or filter rows for conv2d_filter).
type convTile struct {
	WG, TO, TP uint32
}

// convTuning holds the conv tiles of one device class.
type convTuning struct {
	// Direct is the tile of the direct conv (forward and backward-data)
	// where a lane takes TP pixels anywhere; Window where it takes TP
	// consecutive pixels of a row and shares src loads between taps
	// (stride 1 along x). When a group has fewer than TO output channels
	// (grouped, depthwise, stems), TO shrinks to them and TP grows, up
	// to MaxTP, to keep about TO*TP accumulators: the register block is
	// not spent on channels that do not exist.
	Direct, Window convTile
	MaxTP          uint32
	// Filter is the backward-filter tile (TP = filter taps per
	// invocation); FilterWindow the one of its row-window path (TP =
	// filter rows of KW taps each, stride 1 along x).
	Filter, FilterWindow convTile
	// ShuffleWeights makes the lanes of a subgroup load the TO channel
	// values of a step (weights; dy in backward-filter) together, one
	// each, and share them by subgroupShuffle: the *_shuf shaders, used
	// where the device supports shuffles.
	ShuffleWeights bool
	// BiasLocal is the workgroup size of the bias-gradient reduction.
	BiasLocal uint32
}

// convTuningFor returns the conv tiles of a device class (Tuning.Class).
func convTuningFor(class string) convTuning {
	switch class {
	case "cpu":
		// lavapipe runs a subgroup of 8 invocations as one 256-bit SIMD
		// stream, but every buffer load is a loop over the lanes (even at
		// a uniform address): a load costs tens of FMAs. So the tiles
		// maximize FMAs per load: TO channels (their values shared by
		// subgroup shuffles, TO/8 loads) x TP pixels or taps per lane (TP
		// loads): 32x4 is 128 FMAs per 8 loads. Its 128 accumulators
		// spill, but a spill is one vector access and a load a loop over
		// the lanes. Measured on the conv benchmark cases a-e (bench/): 32x4 beat 16x4,
		// 16x8, 8x8 and 64x4 on b and c; 16x8 beat 16x4 on a and d; with
		// row windows 32x8 beat 32x4 on b by about 1.2x (window loads are
		// fewer, so the weight loads weigh more: more pixels amortize them).
		// Backward-filter row windows (one load per filter row and pixel
		// serves KW taps): 4 rows x 32 channels beat 1, 2 and 3 rows on
		// a and b (about 40 vs 25 GFLOP/s of CPU time on b).
		// Small workgroups (a thread runs whole workgroups; these kernels
		// have no barriers) leave fewer idle lanes in the last block and
		// more workgroups to share between threads: backward-filter of
		// the stem (case e) ran about 4x faster with 8 than with 32.
		return convTuning{
			Direct:         convTile{WG: 16, TO: 32, TP: 4},
			Window:         convTile{WG: 16, TO: 32, TP: 8},
			MaxTP:          8,
			Filter:         convTile{WG: 8, TO: 32, TP: 4},
			FilterWindow:   convTile{WG: 8, TO: 32, TP: 4},
			ShuffleWeights: true,
			BiasLocal:      64,
		}
	default:
		// GPUs: loads at a subgroup-uniform address are cache broadcasts
		// and registers are few per thread, so smaller blocks per
		// invocation keep occupancy up (not measured here: no GPU).
		return convTuning{
			Direct:       convTile{WG: 128, TO: 8, TP: 2},
			Window:       convTile{WG: 128, TO: 8, TP: 4},
			MaxTP:        4,
			Filter:       convTile{WG: 64, TO: 4, TP: 2},
			FilterWindow: convTile{WG: 64, TO: 4, TP: 1},
			BiasLocal:    256,
		}
	}
}

// convMaxWindowKW is the widest kernel the row-window paths take: their
// window of TP + KW - 1 values lives in registers (arrays declared at
// this width), one pipeline per width.
const convMaxWindowKW = convMaxKWC

// convPass names a pass of the convolution.
type convPass int

const (
	convForward convPass = iota
	convBackwardData
	convBackwardFilter
	convBackwardBias
)

var convPassName = [...]string{"conv2d", "conv2d backward data", "conv2d backward filter", "conv2d backward bias"}

// convStep is one planned dispatch. With accumulate it adds to its
// output (the last binding) instead of overwriting it.
type convStep struct {
	shader     string
	spec       []uint32
	groups     [3]uint32
	push       pushBuf
	accumulate bool
	// toScratch binds the scratch as the output (a split reduction's
	// slices); sum is the pass that adds them into the output.
	toScratch, sum bool
}

// convLoopLimit is how many loop iterations (all loops together) one
// invocation may run on the device, 0 for no limit: lavapipe ends an
// invocation after 65535 (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS, shared
// by every loop of a shader) and its results are silently wrong. Long
// reductions then run as chains of dispatches that accumulate, each
// within the limit. A property of the driver, not of the tuning class.
func convLoopLimit(info engine.DeviceInfo) int {
	if strings.Contains(strings.ToLower(info.Name+" "+info.Driver), "llvmpipe") {
		return 65535
	}
	return 0
}

// convLoopMargin is kept free of the loop limit for the few loops that
// are not counted per row (outer bookkeeping, the bias tree).
const convLoopMargin = 64

// convChunks splits total units of work into consecutive ranges whose
// loop iterations (perUnit each, plus the margin) fit limit (0: no
// limit, one range). It fails when one unit alone does not fit.
func convChunks(total, perUnit, limit int) ([][2]int, error) {
	if limit == 0 {
		return [][2]int{{0, total}}, nil
	}
	per := (limit - convLoopMargin) / perUnit
	if per < 1 {
		return nil, fmt.Errorf("one unit of %d loop iterations exceeds the limit of %d per invocation (the device's loop limit or the lane budget)", perUnit, limit)
	}
	var out [][2]int
	for b := 0; b < total; b += per {
		out = append(out, [2]int{b, min(total, b+per)})
	}
	return out, nil
}

// convPlan chooses the strategy, tile and grid of one pass of s. It,
// convPlanDirect and convPlanFilter are the only place that decides how
// a convolution runs.
func (k *Kernels) convPlan(s Conv2DShape, pass convPass, bias bool) ([]convStep, error) {
	ct := k.convTuning(s, pass)
	loopLimit := k.laneLimit()
	oh, ow := s.OutH(), s.OutW()
	switch pass {
	case convForward, convBackwardData:
		return k.convPlanDirect(s, pass, bias, ct, loopLimit)
	case convBackwardFilter:
		return k.convPlanFilter(s, ct, loopLimit, 0)
	case convBackwardBias:
		// One workgroup per output channel (grid-stride beyond the grid
		// limit); its N*OH*OW elements in chunks within the loop limit,
		// one iteration per BiasLocal elements and channel of a group.
		gx := min(s.O, int(k.dev.Info().MaxWorkgroupCount[0]))
		total, local := s.N*oh*ow, int(ct.BiasLocal)
		chunks, err := convChunks(ceilDiv(total, local), 1, loopLimit/ceilDiv(s.O, gx))
		if err != nil {
			return nil, fmt.Errorf("%s: %+v: %w", convPassName[pass], s, err)
		}
		var steps []convStep
		for i, c := range chunks {
			steps = append(steps, convStep{shader: "conv2d_bias_grad", spec: []uint32{ct.BiasLocal},
				groups: [3]uint32{uint32(gx), 1, 1}, accumulate: i > 0,
				push: pushBuf(nil).i(s.N).i(s.O).i(oh * ow).i(c[0] * local).i(min(total, c[1]*local)).u(convFlag(i > 0))})
		}
		return steps, nil
	}
	return nil, fmt.Errorf("%s: no plan", convPassName[pass])
}

// convPlanFilter plans the backward-filter of s: each invocation owns TO
// output channels x TP filter entries and reduces over the whole batch
// (one writer per dw element). With stride 1 along x an entry is a whole
// filter row (ky, c) of KW taps that share a sliding window of x values.
// With slices > 1 (convFilterSlices) the reduction splits over z into a
// scratch and a second pass sums it; otherwise long reductions chain.
func (k *Kernels) convPlanFilter(s Conv2DShape, ct convTuning, loopLimit, slices int) ([]convStep, error) {
	const pass = convBackwardFilter
	oh, ow := s.OutH(), s.OutW()
	cg, og := s.C/s.Groups, s.O/s.Groups
	kk := s.KH * s.KW
	tile, kwc, entries := ct.Filter, 0, cg*kk
	if s.StrideW == 1 && s.KW <= convMaxWindowKW {
		tile, kwc, entries = ct.FilterWindow, s.KW, cg*s.KH
	}
	tile.TO = uint32(min(int(tile.TO), og))
	shuf, sg := k.convShuffle(ct, &tile)
	blocks := ceilDiv(og, int(tile.TO))
	gx := ceilDiv(entries, int(tile.WG*tile.TP))
	gy := s.Groups * blocks
	if err := k.checkGrid(pass, s, gx, gy, 1); err != nil {
		return nil, err
	}
	// The reduction runs over output rows (n, oy), OW+1 loop
	// iterations each; chunks of rows keep within the loop limit and the
	// lane budget: a chain of dispatches, or split over z.
	chunks, err := convChunks(s.N*oh, ow+1, loopLimit)
	if err != nil {
		return nil, fmt.Errorf("%s: %+v: %w", convPassName[pass], s, err)
	}
	// step reduces rows c (in z slices of rowsPer rows stored stride
	// apart, or one), overwriting or accumulating.
	step := func(c [2]int, acc bool, rowsPer, stride, gz int) convStep {
		push := pushBuf(nil).i(s.N).i(s.C).i(s.H).i(s.W).i(s.O).i(oh).i(ow).
			i(s.KH).i(s.KW).i(s.StrideH).i(s.StrideW).i(s.PadTop).i(s.PadLeft).
			i(cg).i(og).i(blocks).i(entries).i(c[0]).i(c[1]).u(convFlag(acc)).i(rowsPer).i(stride)
		st := convStep{shader: "conv2d_filter", spec: []uint32{tile.WG, tile.TO, tile.TP, uint32(kwc)},
			groups: [3]uint32{uint32(gx), uint32(gy), uint32(gz)}, push: push, accumulate: acc}
		if shuf {
			st.shader += "_shuf"
			st.spec = append(st.spec, sg)
		}
		return st
	}
	if slices > 1 {
		st := step([2]int{0, s.N * oh}, false, chunks[0][1]-chunks[0][0], s.WLen(), slices)
		st.toScratch = true
		return []convStep{st, k.convSumSlices(s.WLen(), slices)}, nil
	}
	var steps []convStep
	for i, c := range chunks {
		steps = append(steps, step(c, i > 0, c[1]-c[0], 0, 1))
	}
	return steps, nil
}

// convPlanDirect plans the forward and backward-data passes of s: the
// direct register-blocked conv, run by backward-data over dy with input
// and output channels swapped.
func (k *Kernels) convPlanDirect(s Conv2DShape, pass convPass, bias bool, ct convTuning, loopLimit int) ([]convStep, error) {
	oh, ow := s.OutH(), s.OutW()
	cg, og := s.C/s.Groups, s.O/s.Groups
	kk := s.KH * s.KW
	n, cin, hin, win, cout, hout, wout := s.N, s.C, s.H, s.W, s.O, oh, ow
	cgIn, cgOut, sIn, sOut := cg, og, kk, cg*kk
	mode := uint32(0)
	if pass == convBackwardData {
		cin, hin, win, cout, hout, wout = s.O, oh, ow, s.C, s.H, s.W
		cgIn, cgOut, sIn, sOut = og, cg, cg*kk, kk
		mode = 1
	}
	// Where the src column steps by one per output column (stride 1
	// along x) a lane takes TP consecutive pixels of a row and shares
	// each src load between the kernel's taps (row segments, one
	// lane each); otherwise TP pixels anywhere (one lane per TP).
	window := s.StrideW == 1 && s.KW > 1 && s.KW <= convMaxWindowKW
	tile := ct.Direct
	if window {
		tile = ct.Window
	}
	if cgOut < int(tile.TO) {
		tile.TP = min(ct.MaxTP, max(tile.TP, tile.TO*tile.TP/uint32(cgOut)))
		tile.TO = uint32(cgOut)
	}
	shuf, sg := k.convShuffle(ct, &tile)
	blocks := ceilDiv(cgOut, int(tile.TO))
	// Backward-data splits dx into StrideH*StrideW phase classes
	// (grid z), each of which meets only its own taps: no work is
	// spent on taps the stride skips. The grid covers the largest.
	classes, ch, cw := 1, hout, wout
	if pass == convBackwardData {
		classes = s.StrideH * s.StrideW
		ch, cw = ceilDiv(hout, s.StrideH), ceilDiv(wout, s.StrideW)
	}
	kwc := 0
	lanes := ceilDiv(n*ch*cw, int(tile.TP))
	if window {
		kwc = s.KW
		lanes = n * ch * ceilDiv(cw, int(tile.TP))
	}
	// x blocks beyond the grid's width wrap into rows along z.
	gx, rows := ceilDiv(lanes, int(tile.WG)), 1
	if maxX := int(k.dev.Info().MaxWorkgroupCount[0]); gx > maxX {
		gx, rows = maxX, ceilDiv(gx, maxX)
	}
	gy := s.Groups * blocks
	if err := k.checkGrid(pass, s, gx, gy, classes*rows); err != nil {
		return nil, err
	}
	// Loop iterations of one invocation: per kernel row (window) or
	// tap the reduction channels, plus those loops' own ends; chunks
	// of reduction channels keep within the loop limit and the lane budget.
	perC, fixed := kk, s.KH*(s.KW+1)
	if window {
		perC, fixed = s.KH, s.KH
	}
	limit := loopLimit
	if limit > 0 {
		limit -= fixed
		if limit <= convLoopMargin {
			return nil, fmt.Errorf("%s: %+v: a %dx%d kernel exceeds the limit of %d loop iterations per invocation (the device's loop limit or the lane budget)", convPassName[pass], s, s.KH, s.KW, loopLimit)
		}
	}
	chunks, err := convChunks(cgIn, perC, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %+v: %w", convPassName[pass], s, err)
	}
	var steps []convStep
	for i, c := range chunks {
		push := pushBuf(nil).i(n).i(cin).i(hin).i(win).i(cout).i(hout).i(wout).
			i(s.KH).i(s.KW).i(s.StrideH).i(s.StrideW).i(s.PadTop).i(s.PadLeft).
			i(cgIn).i(cgOut).i(blocks).i(sIn).i(sOut).i(c[0]).i(c[1]).u(convFlag(i > 0))
		step := convStep{shader: "conv2d_direct", spec: []uint32{tile.WG, tile.TO, tile.TP, mode, convFlag(bias), uint32(kwc)},
			groups: [3]uint32{uint32(gx), uint32(gy), uint32(classes * rows)}, push: push, accumulate: i > 0}
		if shuf {
			step.shader += "_shuf"
			step.spec = append(step.spec, sg)
		}
		steps = append(steps, step)
	}
	return steps, nil
}

// convShuffle reports whether the *_shuf shaders run (the tuning asks
// for them and the device has subgroup shuffles) and with which subgroup
// size. Their lanes share values across the whole subgroup, so every
// subgroup must be full: the workgroup grows to a multiple of the
// subgroup size (lavapipe's is 16, not 8, with LP_NATIVE_VECTOR_WIDTH=512).
func (k *Kernels) convShuffle(ct convTuning, tile *convTile) (bool, uint32) {
	info := k.dev.Info()
	sg := info.SubgroupSize
	// Each lane holds ceil(TO/sg) of the shared values, in an array of
	// convMaxNW: small subgroups run the plain shaders.
	if !ct.ShuffleWeights || !info.SubgroupShuffle || sg == 0 || ceilDiv(int(tile.TO), int(sg)) > convMaxNW {
		return false, 0
	}
	tile.WG = uint32(ceilDiv(int(tile.WG), int(sg))) * sg
	return true, sg
}

func convFlag(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// checkGrid rejects grids beyond the device's workgroup counts.
func (k *Kernels) checkGrid(pass convPass, s Conv2DShape, gx, gy, gz int) error {
	lim := k.dev.Info().MaxWorkgroupCount
	if gx > int(lim[0]) || gy > int(lim[1]) || gz > int(lim[2]) {
		return fmt.Errorf("%s: %+v needs a %dx%dx%d grid, the device allows %v", convPassName[pass], s, gx, gy, gz, lim)
	}
	return nil
}

// convCheck validates s and the spans of a pass before anything is
// recorded: every span must hold its tensor and fit one binding, and the
// output (the last span) must not overlap an input, which a kernel would
// read after overwriting it. The spans are listed by a function, called
// only once s is valid: the tensor sizes of an invalid shape may not
// even be computable.
func (k *Kernels) convCheck(pass convPass, s Conv2DShape, spans func() []convSpan) error {
	op := convPassName[pass]
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	maxRange := int64(k.dev.Info().MaxStorageBufferRange)
	list := spans()
	for _, sp := range list {
		eb := int64(sp.d.Size())
		if got, err := elemsOf(fmt.Sprintf("%s %+v", op, s), sp.name, sp.span, sp.d); err != nil {
			return err
		} else if got < sp.n {
			return fmt.Errorf("%s %+v: %s holds %d elements, needs %d", op, s, sp.name, got, sp.n)
		}
		if int64(sp.n)*eb > maxRange {
			return fmt.Errorf("%s %+v: %s is %d bytes, more than one binding's maxStorageBufferRange %d", op, s, sp.name, int64(sp.n)*eb, maxRange)
		}
	}
	out := list[len(list)-1]
	o := subOf(out.span, out.n, out.d)
	for _, in := range list[:len(list)-1] {
		i := subOf(in.span, in.n, in.d)
		if i.Buf == o.Buf && i.Off < o.Off+o.Size && o.Off < i.Off+i.Size {
			return fmt.Errorf("%s %+v: output %s overlaps input %s", op, s, out.name, in.name)
		}
	}
	return nil
}

type convSpan = struct {
	name string
	span engine.Span
	n    int
	d    DType // storage type of the span's elements
}

// convRecordScratch dispatches the planned steps, in order, with the
// steps that read or write activations (all but the float32 sum of
// slices) built for storage d. Pipelines are made and every step is
// checked against its shader's contract first, so that a failure records
// nothing. An accumulating step reads its output too (declared, so the
// scheduler orders the chain). A split reduction writes its slices to
// scratch, and the sum pass reads them.
func (k *Kernels) convRecordScratch(p *engine.Program, d DType, pass convPass, s Conv2DShape, steps []convStep, scratch engine.Span, args ...engine.Arg) error {
	if err := k.checkDType(convPassName[pass], d); err != nil {
		return err
	}
	pipes := make([]*pipe, len(steps))
	stepArgs := make([][]engine.Arg, len(steps))
	for i := range steps {
		if !steps[i].sum {
			steps[i].shader = d.variant(steps[i].shader)
		}
	}
	for i, st := range steps {
		pipe, err := k.pipeline(st.shader, st.spec...)
		if err != nil {
			return fmt.Errorf("%s: %w", convPassName[pass], err)
		}
		a := append([]engine.Arg(nil), args...)
		out := len(a) - 1
		switch {
		case st.accumulate:
			a[out].Access = engine.ReadWrite
		case st.toScratch:
			a[out] = scratch.Write()
		case st.sum:
			a = []engine.Arg{scratch.Read(), a[out]}
		}
		if err := checkDispatch(st.shader, st.push, a); err != nil {
			return fmt.Errorf("%s: %w", convPassName[pass], err)
		}
		pipes[i], stepArgs[i] = pipe, a
	}
	label := fmt.Sprintf("%s %dx%dx%dx%d->%d k%dx%d s%d g%d", convPassName[pass], s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.StrideH, s.Groups)
	for i, st := range steps {
		l := label
		if len(steps) > 1 {
			l = fmt.Sprintf("%s [%d/%d]", label, i+1, len(steps))
		}
		if err := k.dispatch(p, l, pipes[i], st.groups, st.push, stepArgs[i]...); err != nil {
			return err
		}
	}
	return nil
}

// Conv2D records y = conv(x, w) + bias. bias may be the zero Span (no
// bias); y is overwritten.
func (k *Kernels) Conv2D(p *engine.Program, s Conv2DShape, x, w, bias, y engine.Span) error {
	return k.Conv2DOf(p, F32, s, x, w, bias, y)
}

// Conv2DOf is Conv2D with x, w and y stored as d (bias stays float32).
func (k *Kernels) Conv2DOf(p *engine.Program, d DType, s Conv2DShape, x, w, bias, y engine.Span) error {
	hasBias := bias != (engine.Span{})
	spans := func() []convSpan {
		sp := []convSpan{{"x", x, s.XLen(), d}, {"w", w, s.WLen(), d}}
		if hasBias {
			sp = append(sp, convSpan{"bias", bias, s.O, F32})
		}
		return append(sp, convSpan{"y", y, s.YLen(), d})
	}
	if err := k.convCheck(convForward, s, spans); err != nil {
		return err
	}
	k.noteConv(s, convForward)
	steps, err := k.convPlan(s, convForward, hasBias)
	if err != nil {
		return err
	}
	b := subOf(w, 1, d) // unused binding without bias: bind w again, read-only
	if hasBias {
		b = sub(bias, s.O)
	}
	return k.convRecordScratch(p, d, convForward, s, steps, engine.Span{},
		subOf(x, s.XLen(), d).Read(), subOf(w, s.WLen(), d).Read(), b.Read(), subOf(y, s.YLen(), d).Write())
}

// Conv2DBackwardData records dx = dL/dx from dy = dL/dy (overwrites dx).
func (k *Kernels) Conv2DBackwardData(p *engine.Program, s Conv2DShape, dy, w, dx engine.Span) error {
	return k.Conv2DBackwardDataOf(p, F32, s, dy, w, dx)
}

// Conv2DBackwardDataOf is Conv2DBackwardData with every span stored as d.
func (k *Kernels) Conv2DBackwardDataOf(p *engine.Program, d DType, s Conv2DShape, dy, w, dx engine.Span) error {
	if err := k.convCheck(convBackwardData, s, func() []convSpan {
		return []convSpan{{"dy", dy, s.YLen(), d}, {"w", w, s.WLen(), d}, {"dx", dx, s.XLen(), d}}
	}); err != nil {
		return err
	}
	k.noteConv(s, convBackwardData)
	steps, err := k.convPlan(s, convBackwardData, false)
	if err != nil {
		return err
	}
	return k.convRecordScratch(p, d, convBackwardData, s, steps, engine.Span{},
		subOf(dy, s.YLen(), d).Read(), subOf(w, s.WLen(), d).Read(), subOf(w, 1, d).Read(), subOf(dx, s.XLen(), d).Write())
}

// sub is the first n float32 of s.
func sub(s engine.Span, n int) engine.Span { return s.Sub(0, int64(4*n)) }

// subOf is the first n elements of storage d of s.
func subOf(s engine.Span, n int, d DType) engine.Span { return s.Sub(0, int64(d.Size()*n)) }

// Conv2DBackwardFilter records dw = dL/dw from x and dy (overwrites dw).
// Long reductions run as chains of dispatches; with scratch,
// Conv2DBackwardFilterSplit runs them in parallel (conv_split.go).
func (k *Kernels) Conv2DBackwardFilter(p *engine.Program, s Conv2DShape, x, dy, dw engine.Span) error {
	return k.Conv2DBackwardFilterSplit(p, s, x, dy, dw, engine.Span{})
}

// Conv2DBackwardBias records db[o] = sum of dy[n, o, :, :] over n
// (overwrites db).
func (k *Kernels) Conv2DBackwardBias(p *engine.Program, s Conv2DShape, dy, db engine.Span) error {
	return k.Conv2DBackwardBiasOf(p, F32, s, dy, db)
}

// Conv2DBackwardBiasOf is Conv2DBackwardBias with dy stored as d (db
// stays float32, summed in float32).
func (k *Kernels) Conv2DBackwardBiasOf(p *engine.Program, d DType, s Conv2DShape, dy, db engine.Span) error {
	if err := k.convCheck(convBackwardBias, s, func() []convSpan {
		return []convSpan{{"dy", dy, s.YLen(), d}, {"db", db, s.O, F32}}
	}); err != nil {
		return err
	}
	steps, err := k.convPlan(s, convBackwardBias, false)
	if err != nil {
		return err
	}
	return k.convRecordScratch(p, d, convBackwardBias, s, steps, engine.Span{}, subOf(dy, s.YLen(), d).Read(), sub(db, s.O).Write())
}
