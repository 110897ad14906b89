package kernels

import "github.com/nfvk/nfvk/engine"

// The split backward-filter convolution. Where one invocation's
// reduction (the batch times the output rows) exceeds the lane budget of
// a GPU class, a chain of accumulating dispatches keeps every dispatch
// short but runs them one after the other with the parallelism of one.
// With scratch memory the chunks run at once instead, as z slices of one
// dispatch that each store their partial dw in the scratch, and
// sum_slices adds them in slice order: no atomics, and the same float
// sums as the chain, bit for bit. CPU devices keep the chain (their few
// threads are busy anyway; no scratch).

// convFilterSlices is the slice count of the split backward-filter of a
// valid s, 0 where it does not split: a CPU tuning class, a reduction
// that fits the lane limit, or slices beyond the grid's depth or the
// scratch beyond one binding.
func (k *Kernels) convFilterSlices(s Conv2DShape) int {
	// A tuned choice says whether to split (at its slice count), else the
	// class: CPU devices chain.
	limit := k.filterLimit(s)
	if c, ok := k.tunedFilter(s); (ok && !c.Split) || (!ok && k.tune.Class == "cpu") || limit == 0 {
		return 0
	}
	chunks, err := convChunks(s.N*s.OutH(), s.OutW()+1, limit)
	if err != nil || len(chunks) < 2 {
		return 0
	}
	info := k.dev.Info()
	n := len(chunks)
	if n > int(info.MaxWorkgroupCount[2]) || int64(n)*int64(s.WLen())*4 > int64(info.MaxStorageBufferRange) {
		return 0
	}
	return n
}

// Conv2DBackwardFilterScratch is the scratch, in float32 elements, that
// Conv2DBackwardFilterSplit uses for s on this device: 0 where the plan
// does not split (or s is invalid, which recording reports).
func (k *Kernels) Conv2DBackwardFilterScratch(s Conv2DShape) int {
	if s.Validate() != nil {
		return 0
	}
	return k.convFilterSlices(s) * s.WLen()
}

// Conv2DBackwardFilterSplit records dw = dL/dw from x and dy (overwrites
// dw) and, where Conv2DBackwardFilterScratch(s) > 0, splits the reduction
// over that much scratch (which must not overlap x, dy or dw). With a
// zero scratch span it chains, like Conv2DBackwardFilter.
func (k *Kernels) Conv2DBackwardFilterSplit(p *engine.Program, s Conv2DShape, x, dy, dw, scratch engine.Span) error {
	return k.Conv2DBackwardFilterSplitOf(p, F32, s, x, dy, dw, scratch)
}

// Conv2DBackwardFilterSplitOf is Conv2DBackwardFilterSplit with x and dy
// stored as d (dw and the scratch stay float32, summed in float32).
func (k *Kernels) Conv2DBackwardFilterSplitOf(p *engine.Program, d DType, s Conv2DShape, x, dy, dw, scratch engine.Span) error {
	const pass = convBackwardFilter
	split := scratch != (engine.Span{})
	n := 0
	if split && s.Validate() == nil {
		n = k.Conv2DBackwardFilterScratch(s)
	}
	// Listed only once s is valid (its sizes may not be computable).
	spans := func() []convSpan {
		return []convSpan{{"x", x, s.XLen(), d}, {"dy", dy, s.YLen(), d}, {"dw", dw, s.WLen(), F32}}
	}
	if err := k.convCheck(pass, s, spans); err != nil {
		return err
	}
	if n > 0 {
		// The scratch is written too: it must hold the slices and overlap
		// none of the others.
		if err := k.convCheck(pass, s, func() []convSpan { return append(spans(), convSpan{"scratch", scratch, n, F32}) }); err != nil {
			return err
		}
	}
	slices := 0
	if n > 0 {
		slices = n / s.WLen()
	}
	k.noteConv(s, convBackwardFilter)
	steps, err := k.convPlanFilter(s, k.convTuning(s, convBackwardFilter), k.filterLimit(s), slices)
	if err != nil {
		return err
	}
	return k.convRecordScratch(p, d, pass, s, steps, sub(scratch, max(n, 1)),
		subOf(x, s.XLen(), d).Read(), subOf(dy, s.YLen(), d).Read(), sub(dw, s.WLen()).Write())
}

// convSumSlices is the step that adds slices copies of n elements, stored
// n apart in the scratch, into the output in slice order.
func (k *Kernels) convSumSlices(n, slices int) convStep {
	local := k.tune.ElementwiseLocal
	groups := min(ceilDiv(n, int(local)), int(k.tune.ElementwiseMaxGroups), int(k.dev.Info().MaxWorkgroupCount[0]))
	return convStep{shader: "sum_slices", spec: []uint32{local}, groups: [3]uint32{uint32(groups), 1, 1},
		push: pushBuf(nil).i(n).i(slices).i(n), sum: true}
}
