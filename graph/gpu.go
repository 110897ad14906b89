package graph

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// lowering is what an op's lower method records with.
type lowering struct {
	k     *kernels.Kernels
	p     *engine.Program
	spans []engine.Span // by tensor ID
	// seed is the per-step seed buffer (two uint32: low, high), written by
	// Step, for the random ops' kernels.
	seed  engine.Span
	plan  *Plan
	arena *engine.Buffer
}

func (l *lowering) span(t *Tensor) engine.Span { return l.spans[t.id] }

// optSpan is t's span, or the zero Span for an absent optional input.
func (l *lowering) optSpan(t *Tensor) engine.Span {
	if t == nil {
		return engine.Span{}
	}
	return l.spans[t.id]
}

// scratch is the node's planned scratch (the zero Span when it has none).
func (l *lowering) scratch(n *Node) engine.Span {
	if l.plan.Scratch[n.id] == 0 {
		return engine.Span{}
	}
	return l.arena.Span().Sub(l.plan.ScratchOffset[n.id], l.plan.Scratch[n.id])
}

// noKernel is the lowering of an op whose GPU kernel has not landed.
func (l *lowering) noKernel(n *Node) error {
	return fmt.Errorf("graph: op %s has %w", n.op.name(), ErrNoKernel)
}

// CompileOptions configure Compile.
type CompileOptions struct {
	// Profile records GPU timestamps after every dispatch (Program().Timings).
	Profile bool
	// After records extra dispatches at the end of the step, after the
	// graph's own nodes: the hook for optimizers written as kernels. span
	// gives the device memory of any persistent tensor; all parameters
	// share one buffer, as do all gradients and all optimizer state, so
	// a multi-tensor kernel can bind each role as one range.
	After func(p *engine.Program, span func(*Tensor) (engine.Span, error)) error
}

// GPU is a graph compiled for a device: planned, lowered into one
// engine.Program and recorded once. Step replays it. Nodes added to the
// graph after Compile are not part of the step. A GPU is not safe for
// concurrent use.
type GPU struct {
	g     *Graph
	k     *kernels.Kernels
	plan  *Plan
	arena *engine.Buffer
	owned []*engine.Buffer // every buffer Compile allocated, freed by Close
	// persist marks the tensors with memory of their own (not the arena),
	// by ID; spans is every tensor's memory.
	persist []bool
	spans   []engine.Span
	seed    *engine.Buffer
	prog    *engine.Program
	i32     []int32
	seedB   [8]byte
}

// Compile plans g's memory, allocates the arena and the persistent
// buffers (constants are uploaded, everything else starts at zero), lowers
// every node into one program and records it. It fails, naming the ops,
// when some op has no GPU kernel yet.
func Compile(ctx context.Context, k *kernels.Kernels, g *Graph, o CompileOptions) (_ *GPU, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dev := k.Device()
	plan, err := PlanMemory(g, PlanOptions{Align: max(int64(dev.Info().MinStorageBufferOffsetAlignment), 16), Kernels: k})
	if err != nil {
		return nil, err
	}
	x := &GPU{g: g, k: k, plan: plan, persist: make([]bool, len(g.tensors)), spans: make([]engine.Span, len(g.tensors))}
	defer func() {
		if err != nil {
			x.Close()
		}
	}()
	if plan.PeakBytes > 0 {
		if x.arena, err = dev.NewBuffer("graph arena", plan.PeakBytes); err != nil {
			return nil, fmt.Errorf("graph: compile: %w", err)
		}
		x.owned = append(x.owned, x.arena)
	}
	if err := x.allocPersistent(plan.Align); err != nil {
		return nil, err
	}
	if x.seed, err = dev.NewBuffer("graph seed", 8); err != nil {
		return nil, fmt.Errorf("graph: compile: %w", err)
	}
	x.owned = append(x.owned, x.seed)
	if err := x.seed.Write(0, x.seedB[:]); err != nil {
		return nil, fmt.Errorf("graph: compile: %w", err)
	}
	x.prog = dev.NewProgram("graph step", engine.ProgramOptions{Profile: o.Profile})
	l := &lowering{k: k, p: x.prog, spans: x.spans, seed: x.seed.Span(), plan: plan, arena: x.arena}
	var missing []string
	for _, n := range g.nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !plan.Run[n.id] {
			continue // dead: nothing the step keeps depends on it
		}
		if err := n.op.lower(l, n); err != nil {
			if errors.Is(err, ErrNoKernel) {
				if !slices.Contains(missing, n.op.name()) {
					missing = append(missing, n.op.name())
				}
				continue
			}
			return nil, fmt.Errorf("graph: compile: node %d %v: %w", n.id, n, err)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return nil, fmt.Errorf("graph: op %s has %w", missing[0], ErrNoKernel)
	default:
		return nil, fmt.Errorf("graph: ops %s have %w", strings.Join(missing, ", "), ErrNoKernel)
	}
	if o.After != nil {
		if err := o.After(x.prog, x.Span); err != nil {
			return nil, fmt.Errorf("graph: compile: after hook: %w", err)
		}
	}
	if err := x.prog.Record(); err != nil {
		return nil, fmt.Errorf("graph: compile: %w", err)
	}
	return x, nil
}

// pooled lists the roles whose tensors share one buffer per role, in the
// order they were added, each at an aligned offset: a multi-tensor kernel
// (the fused optimizer) then binds all parameters, all gradients or all
// optimizer state as one range.
var pooled = []Role{Parameter, Gradient, OptimizerState}

// allocPersistent gives every persistent tensor its memory: the role
// pools, then one buffer per other tensor (inputs, constants, kept
// activations). Everything starts defined: zeros, or a constant's value.
func (x *GPU) allocPersistent(align int64) error {
	dev := x.k.Device()
	for _, role := range pooled {
		var ts []*Tensor
		size := int64(0)
		for _, t := range x.g.tensors {
			if t.role == role && x.live(t) {
				ts = append(ts, t)
				size += alignUp(t.Bytes(), align)
			}
		}
		if len(ts) == 0 {
			continue
		}
		b, err := dev.NewBuffer("graph "+role.String()+"s", size)
		if err != nil {
			return fmt.Errorf("graph: compile: %w", err)
		}
		x.owned = append(x.owned, b)
		if err := zeroBuffer(b); err != nil {
			return fmt.Errorf("graph: compile: %w", err)
		}
		off := int64(0)
		for _, t := range ts {
			x.persist[t.id], x.spans[t.id] = true, b.Span().Sub(off, t.Bytes())
			off += alignUp(t.Bytes(), align)
		}
	}
	for _, t := range x.g.tensors {
		if x.persist[t.id] || !t.Persistent() || !x.live(t) {
			continue
		}
		b, err := dev.NewBuffer(t.name, t.Bytes())
		if err != nil {
			return fmt.Errorf("graph: compile: %w", err)
		}
		x.owned = append(x.owned, b)
		x.persist[t.id], x.spans[t.id] = true, b.Span()
		if t.init != nil {
			err = engine.Upload(b, t.init)
		} else {
			err = zeroBuffer(b)
		}
		if err != nil {
			return fmt.Errorf("graph: compile: initialize %v: %w", t, err)
		}
	}
	for _, t := range x.g.tensors {
		if off := x.plan.Offset[t.id]; off >= 0 {
			x.spans[t.id] = x.arena.Span().Sub(off, t.Bytes())
		}
	}
	return nil
}

// live reports whether t exists in the step: a leaf, or an output of a
// node the step runs.
func (x *GPU) live(t *Tensor) bool { return t.node == nil || x.plan.Run[t.node.id] }

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
func (x *GPU) Plan() *Plan { return x.plan }

// Program is the recorded step (for Timings, Dispatches, Barriers).
func (x *GPU) Program() *engine.Program { return x.prog }

// Span is the device memory of a persistent tensor.
func (x *GPU) Span(t *Tensor) (engine.Span, error) {
	if err := x.own(t); err != nil {
		return engine.Span{}, err
	}
	if !x.persist[t.id] {
		return engine.Span{}, fmt.Errorf("graph: %v lives in the arena (Keep it to read it after a step)", t)
	}
	return x.spans[t.id], nil
}

func (x *GPU) own(t *Tensor) error {
	if t == nil || t.g != x.g || t.id >= len(x.spans) {
		return fmt.Errorf("graph: %v is not a tensor of the compiled graph", t)
	}
	return nil
}

// Write sets a persistent tensor (a parameter, input or state). Labels
// (Int32 tensors) are given as float32 class indices.
func (x *GPU) Write(t *Tensor, v []float32) error {
	if err := x.own(t); err != nil {
		return err
	}
	if !x.persist[t.id] {
		return fmt.Errorf("graph: write %v: an arena tensor is computed, not set", t)
	}
	if len(v) != t.Size() {
		return fmt.Errorf("graph: write %v: %d values, want %d", t, len(v), t.Size())
	}
	s := x.spans[t.id]
	if t.dtype == Int32 {
		x.i32 = x.i32[:0]
		for _, f := range v {
			x.i32 = append(x.i32, int32(f))
		}
		return s.Buf.Write(s.Off, bytesOf(x.i32))
	}
	return s.Buf.Write(s.Off, bytesOf(v))
}

// Read returns a persistent tensor's value (parameters, gradients, kept
// tensors); call it between steps.
func (x *GPU) Read(t *Tensor) ([]float32, error) {
	if _, err := x.Span(t); err != nil {
		return nil, err
	}
	v := make([]float32, t.Size())
	s := x.spans[t.id]
	if t.dtype == Int32 {
		i := make([]int32, t.Size())
		if err := s.Buf.Read(s.Off, bytesOf(i)); err != nil {
			return nil, err
		}
		for j, n := range i {
			v[j] = float32(n)
		}
		return v, nil
	}
	return v, s.Buf.Read(s.Off, bytesOf(v))
}

// Submit uploads the feeds and the seed and submits the recorded step
// without waiting; Wait waits for it. Step does both.
func (x *GPU) Submit(seed uint64, feeds map[*Tensor][]float32) error {
	if x.prog == nil {
		return errors.New("graph: submit after Close")
	}
	// The previous run must be finished before its inputs are overwritten.
	if err := x.prog.Wait(context.Background()); err != nil {
		return err
	}
	for t, v := range feeds {
		if t.role != Input {
			return fmt.Errorf("graph: feed %v: a %v, not an input", t, t.role)
		}
		if err := x.Write(t, v); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint64(x.seedB[:], seed)
	if err := x.seed.Write(0, x.seedB[:]); err != nil {
		return err
	}
	return x.prog.Submit()
}

// Wait waits for the submitted step.
func (x *GPU) Wait(ctx context.Context) error { return x.prog.Wait(ctx) }

// Step uploads the feeds and the seed, replays the recorded step and
// waits for it.
func (x *GPU) Step(ctx context.Context, seed uint64, feeds map[*Tensor][]float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A run submitted without Step is waited for here, cancellably.
	if x.prog != nil {
		if err := x.prog.Wait(ctx); err != nil {
			return err
		}
	}
	if err := x.Submit(seed, feeds); err != nil {
		return err
	}
	return x.Wait(ctx)
}

// Close frees the program and the buffers.
func (x *GPU) Close() {
	if x.prog != nil {
		x.prog.Close()
		x.prog = nil
	}
	for _, b := range x.owned {
		b.Free()
	}
	x.owned, x.arena, x.seed = nil, nil, nil
}

// bytesOf views 4-byte elements as bytes, without copying (the buffers
// are little-endian like every platform Vulkan runs Go on).
func bytesOf[T float32 | int32](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
