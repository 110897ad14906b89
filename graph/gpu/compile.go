package gpu

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// Options configure Compile.
type Options struct {
	// Profile records GPU timestamps after every dispatch (Program().Timings).
	Profile bool
	// Precision is how the step stores activations (graph.ApplyPrecision,
	// which Compile applies to the graph): FP32 (the default) or FP16.
	Precision graph.Precision
}

// Executable is a graph compiled for a device: planned, lowered into one
// engine.Program and recorded once. Step replays it. Nodes added to the
// graph after Compile are not part of the step. An Executable is not safe
// for concurrent use.
type Executable struct {
	g    *graph.Graph
	plan *graph.Plan
	be   *backend
	// progs holds one program per phase of the graph; last is the phase
	// submitted last.
	progs []*engine.Program
	last  int
	i32   []int32
	seed  [8]byte
	in    *inputRing // nil when the inputs are in mapped memory
}

// Compile plans g's memory, allocates its buffers (constants are
// uploaded, everything else starts at zero), lowers every node into one
// program and records it. It fails, naming the ops, when some op has no
// GPU kernel yet.
func Compile(ctx context.Context, k *kernels.Kernels, g *graph.Graph, o Options) (_ *Executable, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k == nil || g == nil {
		return nil, errors.New("graph: compile: no kernels (device) or graph")
	}
	dev := k.Device()
	if err := CheckPrecision(dev.Info(), o.Precision); err != nil {
		return nil, fmt.Errorf("graph: compile: %w", err)
	}
	if err := graph.ApplyPrecision(g, o.Precision); err != nil {
		return nil, err
	}
	be := &backend{k: k}
	plan, err := graph.PlanMemory(g, graph.PlanOptions{Align: max(int64(dev.Info().MinStorageBufferOffsetAlignment), 16), Backend: be,
		MaxBufferBytes: dev.Info().MaxAllocationBytes()})
	if err != nil {
		return nil, err
	}
	x := &Executable{g: g, plan: plan, be: be}
	defer func() {
		if err != nil {
			x.Close()
		}
	}()
	for _, b := range plan.Buffers {
		buf, err := dev.NewBuffer(b.Name, b.Size)
		if err != nil {
			return nil, fmt.Errorf("graph: compile: %w", err)
		}
		be.bufs = append(be.bufs, buf)
		if err := zeroBuffer(buf); err != nil {
			return nil, fmt.Errorf("graph: compile: %w", err)
		}
	}
	for _, t := range g.Tensors() {
		if v := t.Init(); v != nil && !plan.Mem[t.ID()].Absent() {
			if err := x.Write(t, v); err != nil {
				return nil, fmt.Errorf("graph: compile: initialize %v: %w", t, err)
			}
		}
	}
	if x.in, err = newInputRing(x); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for phase := range g.Phases() {
		name := "graph step"
		if g.Phases() > 1 {
			name = fmt.Sprintf("graph step phase %d", phase)
		}
		p := dev.NewProgram(name, engine.ProgramOptions{Profile: o.Profile})
		x.progs = append(x.progs, p)
		be.p = p
		if err := graph.LowerPhase(g, plan, be, phase); err != nil {
			return nil, err
		}
		if err := p.Record(); err != nil {
			return nil, fmt.Errorf("graph: compile: %w", err)
		}
	}
	return x, nil
}

// zeroBuffer writes zeros over b, in chunks.
func zeroBuffer(b *engine.Buffer) error {
	zero := make([]byte, min(b.Size(), 4<<20))
	for off := int64(0); off < b.Size(); off += int64(len(zero)) {
		if err := b.Write(off, zero[:min(int64(len(zero)), b.Size()-off)]); err != nil {
			return err
		}
	}
	return nil
}

// Plan is the memory plan the step runs with.
func (x *Executable) Plan() *graph.Plan { return x.plan }

// Program is the recorded step, or its first phase (for Timings,
// Dispatches, Barriers).
func (x *Executable) Program() *engine.Program {
	if len(x.progs) == 0 {
		return nil
	}
	return x.progs[0]
}

// Programs are the recorded phases, in order.
func (x *Executable) Programs() []*engine.Program { return x.progs }

// Span is the device memory of a persistent tensor.
func (x *Executable) Span(t *graph.Tensor) (engine.Span, error) {
	s, err := x.span(t)
	if err != nil {
		return engine.Span{}, fmt.Errorf("graph: %w", err)
	}
	return s, nil
}

// span is Span with errors for Span, Write and Read to prefix.
func (x *Executable) span(t *graph.Tensor) (engine.Span, error) {
	if t == nil || t.Graph() != x.g || t.ID() >= len(x.plan.Mem) {
		return engine.Span{}, fmt.Errorf("%v is not a tensor of the compiled graph", t)
	}
	if !t.Persistent() {
		return engine.Span{}, fmt.Errorf("%v lives in the arena (Keep it to read it after a step)", t)
	}
	m := x.plan.Mem[t.ID()]
	if m.Absent() {
		return engine.Span{}, fmt.Errorf("%v is not computed by the step", t)
	}
	return x.be.span(m), nil
}

// Write sets a persistent tensor (a parameter, input or state). Labels
// (Int32 tensors) are given as float32 class indices.
func (x *Executable) Write(t *graph.Tensor, v []float32) error {
	s, err := x.span(t)
	if err != nil {
		return fmt.Errorf("graph: write: %w", err)
	}
	b, err := x.encode(t, v)
	if err != nil {
		return err
	}
	return s.Buf.Write(s.Off, b)
}

// Read returns a persistent tensor's value (parameters, gradients, kept
// tensors); call it between steps.
func (x *Executable) Read(t *graph.Tensor) ([]float32, error) {
	v := make([]float32, t.Size())
	return v, x.ReadInto(t, v)
}

// ReadInto reads a persistent tensor into dst (len(dst) == t.Size()),
// allocating nothing for float32 tensors.
func (x *Executable) ReadInto(t *graph.Tensor, dst []float32) error {
	s, err := x.span(t)
	if err != nil {
		return fmt.Errorf("graph: read: %w", err)
	}
	if len(dst) != t.Size() {
		return fmt.Errorf("graph: read %v into %d values", t, len(dst))
	}
	if t.DType() == graph.Int32 {
		i := make([]int32, t.Size())
		if err := s.Buf.Read(s.Off, bytesOf(i)); err != nil {
			return err
		}
		for j, n := range i {
			dst[j] = float32(n)
		}
		return nil
	}
	return s.Buf.Read(s.Off, bytesOf(dst))
}

// Submit uploads the feeds and the seed and submits the recorded step
// (its first phase) without waiting; Wait waits for it. Step does both.
func (x *Executable) Submit(seed uint64, feeds map[*graph.Tensor][]float32) error {
	return x.SubmitPhase(0, seed, feeds)
}

// SubmitPhase is Submit for one phase of the step (graph.SetPhase).
func (x *Executable) SubmitPhase(phase int, seed uint64, feeds map[*graph.Tensor][]float32) error {
	if len(x.progs) == 0 {
		return errors.New("graph: submit after Close")
	}
	if phase < 0 || phase >= len(x.progs) {
		return fmt.Errorf("graph: submit phase %d of a %d-phase step", phase, len(x.progs))
	}
	return x.feed(phase, seed, feeds)
}

// Wait waits for the submitted step (phase).
func (x *Executable) Wait(ctx context.Context) error {
	if len(x.progs) == 0 {
		return errors.New("graph: wait after Close")
	}
	return x.progs[x.last].Wait(ctx)
}

// Step uploads the feeds and the seed, replays every phase of the
// recorded step once, in order, and waits for it.
func (x *Executable) Step(ctx context.Context, seed uint64, feeds map[*graph.Tensor][]float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A run submitted without Step is waited for here, cancellably.
	if len(x.progs) > 0 {
		if err := x.Wait(ctx); err != nil {
			return err
		}
	}
	for phase := range max(len(x.progs), 1) {
		if err := x.SubmitPhase(phase, seed, feeds); err != nil {
			return err
		}
		if err := x.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close frees the programs and the buffers.
func (x *Executable) Close() {
	for _, p := range x.progs {
		p.Close()
	}
	x.progs = nil
	if x.in != nil {
		x.in.ring.Close()
		x.in = nil
	}
	for _, b := range append(x.be.bufs, x.be.tables...) {
		b.Free()
	}
	x.be.bufs, x.be.tables = nil, nil
}

// bytesOf views 4-byte elements as bytes, without copying (the buffers
// are little-endian like every platform Vulkan runs Go on).
func bytesOf[T float32 | int32](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
