package graph

import "fmt"

// BufferSpec is one device buffer of a plan.
type BufferSpec struct {
	Name string
	Size int64
}

// pooled lists the roles whose tensors share one buffer per role, in the
// order they were added, each at an aligned offset: a multi-tensor kernel
// (the fused optimizer, the EMA) then binds all parameters, all gradients
// or all optimizer state as one range, and the parameter and average
// pools have the same layout.
var pooled = []Role{Parameter, Gradient, OptimizerState, Average}

// placeBuffers gives every live tensor its memory: arena tensors at their
// planned offsets, the role pools, then one buffer per other persistent
// tensor (inputs, constants, kept activations), and the seed. Under
// MaxBufferBytes the arena is several buffers, one per chunk of that size
// (the planner kept every tensor inside one chunk), and a role pool
// starts a new buffer when the next tensor would overflow it.
func (p *Plan) placeBuffers(g *Graph) {
	p.Mem = make([]Mem, len(g.tensors))
	p.ScratchMem = make([]Mem, len(g.nodes))
	live := func(t *Tensor) bool { return t.node == nil || p.Run[t.node.id] }
	if p.PeakBytes > 0 {
		arena, chunk := len(p.Buffers), p.PeakBytes
		if p.MaxBufferBytes > 0 {
			chunk = p.MaxBufferBytes
		}
		for off, i := int64(0), 1; off < p.PeakBytes; off, i = off+chunk, i+1 {
			name := "graph arena"
			if chunk < p.PeakBytes {
				name = fmt.Sprintf("graph arena %d", i)
			}
			p.Buffers = append(p.Buffers, BufferSpec{Name: name, Size: min(chunk, p.PeakBytes-off)})
		}
		at := func(off, size int64) Mem { return Mem{Buf: arena + int(off/chunk), Off: off % chunk, Size: size} }
		for _, t := range g.tensors {
			if off := p.Offset[t.id]; off >= 0 {
				p.Mem[t.id] = at(off, t.Bytes())
			}
		}
		for id, size := range p.Scratch {
			if size > 0 {
				p.ScratchMem[id] = at(p.ScratchOffset[id], size)
			}
		}
		p.placeCasts(at)
	}
	placed := make([]bool, len(g.tensors))
	for _, role := range pooled {
		first, buf, off := len(p.Buffers), -1, int64(0)
		for _, t := range g.tensors {
			if t.role != role || !live(t) {
				continue
			}
			if buf < 0 || p.MaxBufferBytes > 0 && off > 0 && off+t.Bytes() > p.MaxBufferBytes {
				buf, off = len(p.Buffers), 0
				p.Buffers = append(p.Buffers, BufferSpec{Name: fmt.Sprintf("graph %ss", role)})
			}
			p.Mem[t.id], placed[t.id] = Mem{Buf: buf, Off: off, Size: t.Bytes()}, true
			off += alignUp(t.Bytes(), p.Align)
			p.Buffers[buf].Size = off
		}
		if n := len(p.Buffers) - first; n > 1 {
			for i := first; i < len(p.Buffers); i++ {
				p.Buffers[i].Name += fmt.Sprintf(" %d/%d", i-first+1, n)
			}
		}
	}
	for _, t := range g.tensors {
		if placed[t.id] || !t.Persistent() || !live(t) {
			continue
		}
		p.Mem[t.id] = Mem{Buf: len(p.Buffers), Size: t.Bytes()}
		p.Buffers = append(p.Buffers, BufferSpec{Name: t.name, Size: t.Bytes()})
	}
	for _, t := range g.tensors {
		if t.dtype.is16() && !p.Mem[t.id].Absent() {
			p.Mem[t.id].Type = t.dtype
		}
	}
	p.Seed = Mem{Buf: len(p.Buffers), Size: 8}
	p.Buffers = append(p.Buffers, BufferSpec{Name: "graph seed", Size: 8})
}

// chunkStart moves an arena offset to the next chunk boundary when size
// bytes there would straddle one (MaxBufferBytes).
func (p *Plan) chunkStart(off, size int64) int64 {
	lim := p.MaxBufferBytes
	if lim <= 0 || off/lim == (off+size-1)/lim {
		return off
	}
	return (off/lim + 1) * lim
}
