package gpu

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
)

// inputRing uploads a step's inputs and seed on devices whose buffers are
// not host-visible: the host writes them into a slot of an
// engine.UploadRing, and the step's own submit copies them in, so a step
// is one submit whatever it feeds. Inputs in mapped memory are written in
// place, as before.
type inputRing struct {
	ring *engine.UploadRing
	idx  map[*graph.Tensor]int // an input's span in the ring
	seed int                   // the seed's span, or -1
}

// newInputRing makes the executable's ring, or returns nil when every
// input and the seed are in mapped memory.
func newInputRing(x *Executable) (*inputRing, error) {
	in := &inputRing{idx: map[*graph.Tensor]int{}, seed: -1}
	var spans []engine.Span
	for _, t := range x.g.Tensors() {
		if t.Role() != graph.Input || x.plan.Mem[t.ID()].Absent() {
			continue
		}
		if s := x.be.span(x.plan.Mem[t.ID()]); !s.Buf.Mapped() {
			in.idx[t] = len(spans)
			spans = append(spans, s)
		}
	}
	if s := x.be.span(x.plan.Seed); !s.Buf.Mapped() {
		in.seed = len(spans)
		spans = append(spans, s)
	}
	if len(spans) == 0 {
		return nil, nil
	}
	r, err := x.be.k.Device().NewUploadRing("graph inputs", spans)
	if err != nil {
		return nil, fmt.Errorf("graph: compile: %w", err)
	}
	in.ring = r
	return in, nil
}

// UploadRing is the ring the step's inputs go through, or nil when they
// are written into mapped memory.
func (x *Executable) UploadRing() *engine.UploadRing {
	if x.in == nil {
		return nil
	}
	return x.in.ring
}

// encode checks v against t and returns its bytes as the buffer holds
// them (labels as int32).
func (x *Executable) encode(t *graph.Tensor, v []float32) ([]byte, error) {
	if len(v) != t.Size() {
		return nil, fmt.Errorf("graph: write %v: %d values, want %d", t, len(v), t.Size())
	}
	if t.DType() == graph.Int32 {
		x.i32 = x.i32[:0]
		for _, f := range v {
			x.i32 = append(x.i32, int32(f))
		}
		return bytesOf(x.i32), nil
	}
	return bytesOf(v), nil
}

// feed writes the feeds and the seed and submits phase. Ring inputs go
// into the ring's next slot while the previous run may still be going;
// mapped ones are written once it has finished.
func (x *Executable) feed(phase int, seed uint64, feeds map[*graph.Tensor][]float32) error {
	for t := range feeds {
		if t.Role() != graph.Input {
			return fmt.Errorf("graph: feed %v: a %v, not an input", t, t.Role())
		}
	}
	binary.LittleEndian.PutUint64(x.seed[:], seed)
	var ring *engine.UploadRing
	if x.in != nil {
		ring = x.in.ring
		for t, v := range feeds {
			i, ok := x.in.idx[t]
			if !ok {
				continue
			}
			b, err := x.encode(t, v)
			if err != nil {
				return err
			}
			if err := ring.Set(i, b); err != nil {
				return fmt.Errorf("graph: feed %v: %w", t, err)
			}
		}
		if x.in.seed >= 0 {
			if err := ring.Set(x.in.seed, x.seed[:]); err != nil {
				return fmt.Errorf("graph: seed: %w", err)
			}
		}
	}
	// The previous run must be finished before mapped inputs are
	// overwritten and before another phase reads what it wrote.
	if err := x.Wait(context.Background()); err != nil {
		return err
	}
	for t, v := range feeds {
		if _, ok := x.idx(t); ok {
			continue
		}
		if err := x.Write(t, v); err != nil {
			return err
		}
	}
	if x.in == nil || x.in.seed < 0 {
		s := x.be.span(x.plan.Seed)
		if err := s.Buf.Write(s.Off, x.seed[:]); err != nil {
			return err
		}
	}
	x.last = phase
	return x.progs[phase].SubmitWith(ring)
}

// idx is t's span in the ring, if it goes through the ring.
func (x *Executable) idx(t *graph.Tensor) (int, bool) {
	if x.in == nil {
		return 0, false
	}
	i, ok := x.in.idx[t]
	return i, ok
}
