package graph

import (
	"fmt"
	"slices"
)

// scratcher is implemented by ops whose GPU kernels need scratch memory.
type scratcher interface {
	scratch(b Backend, n *Node) int64 // bytes
}

// Memory planning: every activation and temporary gets an offset in one
// arena. A tensor is live from the node that writes it to the last node
// that reads it (both inclusive, so an op's output never overlaps its
// inputs); tensors whose live ranges do not overlap may share bytes.

// PlanOptions configure PlanMemory.
type PlanOptions struct {
	// Align is the offset alignment in bytes (the device's
	// minStorageBufferOffsetAlignment; at least 16 for vec4 access).
	// Zero means 256, the largest any Vulkan device requires.
	Align int64
	// Backend, when set, sizes the per-node GPU scratch (partial sums)
	// some kernels need; the scratch lives in the arena during its node.
	Backend Backend
	// MaxBufferBytes, when positive, is the largest buffer the device
	// allocates (engine.DeviceInfo.MaxAllocationBytes): the arena and the
	// role pools are split into buffers of at most this size, no tensor
	// straddling two.
	MaxBufferBytes int64
}

// Plan places the arena tensors of a graph.
type Plan struct {
	// Offset is each tensor's byte offset in the arena, by tensor ID; -1
	// for persistent tensors, which have their own buffers.
	Offset []int64
	// Scratch and ScratchOffset are each node's scratch bytes and arena
	// offset, by node ID.
	Scratch, ScratchOffset []int64
	// Live is each tensor's live range [first, last] in node indices,
	// by tensor ID (leaves start at -1: they exist before the step).
	Live [][2]int
	// PeakBytes is the arena size: the planned peak of activations and
	// temporaries.
	PeakBytes int64
	// NaiveBytes is the sum of all arena tensor sizes: the arena without
	// sharing.
	NaiveBytes int64
	// PersistentBytes is the sum of the persistent tensor sizes
	// (parameters, gradients, inputs, constants, optimizer state, kept).
	PersistentBytes int64
	// Run marks the nodes a step executes, by node ID: those with side
	// effects (parameter updates) and those whose outputs something
	// persistent depends on. The others are dead (for example a DropPath
	// that Residual fused) and get no memory.
	Run []bool
	// Align is the alignment used.
	Align int64
	// MaxBufferBytes is the largest buffer the plan makes (0: no limit):
	// the arena is split into buffers of this size (the last smaller).
	MaxBufferBytes int64
	// Buffers are the device buffers the step needs: the arena, one pool
	// per pooled role, one buffer per other persistent tensor, and the
	// seed. Everything starts at zero except constants (Tensor.Init).
	Buffers []BufferSpec
	// Mem is every live tensor's memory, by tensor ID (the zero Mem for
	// tensors of dead nodes); ScratchMem every node's scratch.
	Mem, ScratchMem []Mem
	// Seed is the step's random seed: two uint32, low word first.
	Seed Mem
	// Casts are each node's converted operands, by node ID (precision
	// FP16: ApplyPrecision); they live in the arena with its scratch,
	// castOff bytes past ScratchOffset.
	Casts   [][]Cast
	castOff []int64
	// alias maps each tensor to the tensor whose allocation it shares
	// (itself unless it is an in-place output).
	alias []int
}

// inPlacer is implemented by ops whose output 0 may take over the memory
// of one of the inputs it lists, when that input is last read by the op.
type inPlacer interface {
	inPlace() []int
}

// Ratio is PeakBytes / NaiveBytes (1 for an empty arena).
func (p *Plan) Ratio() float64 {
	if p.NaiveBytes == 0 {
		return 1
	}
	return float64(p.PeakBytes) / float64(p.NaiveBytes)
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// PlanMemory computes the live ranges of g's tensors over the execution
// order and places the arena tensors with a greedy best-fit: largest
// first, each at the lowest aligned offset free of every already placed
// tensor whose live range overlaps its own.
func PlanMemory(g *Graph, o PlanOptions) (*Plan, error) {
	align := o.Align
	if align == 0 {
		align = 256
	}
	if align < 16 || align&(align-1) != 0 {
		return nil, fmt.Errorf("graph: plan: alignment %d must be a power of two >= 16", align)
	}
	nt := len(g.tensors)
	p := &Plan{Offset: make([]int64, nt), Live: make([][2]int, nt), Align: align, MaxBufferBytes: o.MaxBufferBytes &^ (align - 1)}
	for _, t := range g.tensors {
		first := -1
		if t.node != nil {
			first = t.node.id
		}
		p.Live[t.id] = [2]int{first, first}
	}
	p.Run = liveNodes(g)
	for _, n := range g.nodes {
		if !p.Run[n.id] {
			continue
		}
		for _, in := range n.ins {
			if in != nil && n.id > p.Live[in.id][1] {
				p.Live[in.id][1] = n.id
			}
		}
	}
	p.aliasInPlace(g)
	// item is one arena allocation: a tensor or a node's scratch.
	type item struct {
		size int64
		live [2]int
		off  *int64
	}
	var items []item
	for _, t := range g.tensors {
		p.Offset[t.id] = -1
		if t.Persistent() {
			p.PersistentBytes += alignUp(t.Bytes(), align)
			continue
		}
		if !p.Run[t.node.id] {
			continue
		}
		p.NaiveBytes += alignUp(t.Bytes(), align)
		if p.alias[t.id] != t.id {
			continue // placed with its group's root
		}
		items = append(items, item{alignUp(t.Bytes(), align), p.Live[t.id], &p.Offset[t.id]})
	}
	for id, b := range p.planScratch(g, o.Backend, align) {
		if b > 0 {
			p.NaiveBytes += b
			items = append(items, item{b, [2]int{id, id}, &p.ScratchOffset[id]})
		}
	}
	// Largest first packs best; ties by start keep the result stable.
	slices.SortStableFunc(items, func(a, b item) int {
		if a.size != b.size {
			if a.size > b.size {
				return -1
			}
			return 1
		}
		return a.live[0] - b.live[0]
	})
	type span struct{ off, end int64 }
	var busy []span
	for i, it := range items {
		busy = busy[:0]
		for _, q := range items[:i] {
			if q.live[0] <= it.live[1] && it.live[0] <= q.live[1] {
				busy = append(busy, span{*q.off, *q.off + q.size})
			}
		}
		slices.SortFunc(busy, func(a, b span) int {
			switch {
			case a.off < b.off:
				return -1
			case a.off > b.off:
				return 1
			}
			return 0
		})
		if lim := p.MaxBufferBytes; lim > 0 && it.size > lim {
			return nil, fmt.Errorf("graph: plan: an arena tensor of %d bytes is larger than the device's largest buffer (%d bytes)", it.size, lim)
		}
		off := int64(0)
		for _, s := range busy {
			off = p.chunkStart(off, it.size)
			if off+it.size <= s.off {
				break // fits in the gap before s
			}
			off = max(off, s.end)
		}
		off = p.chunkStart(off, it.size)
		*it.off = off
		p.PeakBytes = max(p.PeakBytes, off+it.size)
	}
	for _, t := range g.tensors {
		if r := p.alias[t.id]; r != t.id {
			p.Offset[t.id] = p.Offset[r]
			p.Live[t.id] = p.Live[r]
		}
	}
	p.placeBuffers(g)
	for _, b := range p.Buffers {
		if lim := p.MaxBufferBytes; lim > 0 && b.Size > lim {
			return nil, fmt.Errorf("graph: plan: %s needs a %d-byte buffer, larger than the device's largest buffer (%d bytes)", b.Name, b.Size, lim)
		}
	}
	return p, nil
}

// aliasInPlace lets the output of each in-place op share the allocation
// of a same-sized arena input the op reads last: the group's live range
// is the union of its members'.
func (p *Plan) aliasInPlace(g *Graph) {
	p.alias = make([]int, len(g.tensors))
	for i := range p.alias {
		p.alias[i] = i
	}
	arena := func(t *Tensor) bool { return t != nil && !t.Persistent() && p.Run[t.node.id] }
	for _, n := range g.nodes {
		ip, ok := n.op.(inPlacer)
		if !ok || !p.Run[n.id] || len(n.outs) == 0 || !arena(n.outs[0]) {
			continue
		}
		out := n.outs[0]
		for _, i := range ip.inPlace() {
			in := n.ins[i]
			if !arena(in) || in.Bytes() != out.Bytes() {
				continue
			}
			root := p.alias[in.id]
			if p.Live[root][1] != n.id {
				continue // read later: its memory is not free to reuse
			}
			p.alias[out.id] = root
			p.Live[root][1] = max(p.Live[root][1], p.Live[out.id][1])
			break
		}
	}
}

// liveNodes marks the nodes whose work is observable: nodes without
// outputs (in-place updates), nodes with a persistent output, and nodes
// feeding a live node.
func liveNodes(g *Graph) []bool {
	live := make([]bool, len(g.nodes))
	used := make([]bool, len(g.tensors))
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := g.nodes[i]
		l := len(n.outs) == 0
		for _, t := range n.outs {
			l = l || used[t.id] || t.Persistent()
		}
		if !l {
			continue
		}
		live[i] = true
		for _, t := range n.ins {
			if t != nil {
				used[t.id] = true
			}
		}
	}
	return live
}

// Check verifies that every arena tensor is aligned and inside the arena
// and that no two arena tensors with overlapping live ranges overlap in
// memory, unless one reuses the other's allocation in place. It is
// O(tensors^2): tests run it, the executors trust the plan.
func (p *Plan) Check(g *Graph) error {
	for _, a := range g.tensors {
		if p.Offset[a.id] < 0 {
			continue
		}
		if p.Offset[a.id]%p.Align != 0 || p.Offset[a.id]+a.Bytes() > p.PeakBytes {
			return fmt.Errorf("%v at %d: misaligned or outside the %d-byte arena", a, p.Offset[a.id], p.PeakBytes)
		}
		if p.chunkStart(p.Offset[a.id], a.Bytes()) != p.Offset[a.id] {
			return fmt.Errorf("%v at %d straddles two %d-byte arena buffers", a, p.Offset[a.id], p.MaxBufferBytes)
		}
		for _, b := range g.tensors[a.id+1:] {
			if p.Offset[b.id] < 0 {
				continue
			}
			if p.alias[a.id] == p.alias[b.id] {
				continue // one allocation, reused in place
			}
			la, lb := p.Live[a.id], p.Live[b.id]
			if la[0] > lb[1] || lb[0] > la[1] {
				continue
			}
			if p.Offset[a.id] < p.Offset[b.id]+b.Bytes() && p.Offset[b.id] < p.Offset[a.id]+a.Bytes() {
				return fmt.Errorf("%v %v and %v %v are live together and overlap at %d, %d", a, la, b, lb, p.Offset[a.id], p.Offset[b.id])
			}
		}
	}
	return nil
}
