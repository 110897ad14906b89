package graph

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
// tensor (inputs, constants, kept activations), and the seed.
func (p *Plan) placeBuffers(g *Graph) {
	p.Mem = make([]Mem, len(g.tensors))
	p.ScratchMem = make([]Mem, len(g.nodes))
	live := func(t *Tensor) bool { return t.node == nil || p.Run[t.node.id] }
	if p.PeakBytes > 0 {
		arena := len(p.Buffers)
		p.Buffers = append(p.Buffers, BufferSpec{Name: "graph arena", Size: p.PeakBytes})
		for _, t := range g.tensors {
			if off := p.Offset[t.id]; off >= 0 {
				p.Mem[t.id] = Mem{Buf: arena, Off: off, Size: t.Bytes()}
			}
		}
		for id, size := range p.Scratch {
			if size > 0 {
				p.ScratchMem[id] = Mem{Buf: arena, Off: p.ScratchOffset[id], Size: size}
			}
		}
	}
	placed := make([]bool, len(g.tensors))
	for _, role := range pooled {
		buf, off := len(p.Buffers), int64(0)
		for _, t := range g.tensors {
			if t.role == role && live(t) {
				p.Mem[t.id], placed[t.id] = Mem{Buf: buf, Off: off, Size: t.Bytes()}, true
				off += alignUp(t.Bytes(), p.Align)
			}
		}
		if off > 0 {
			p.Buffers = append(p.Buffers, BufferSpec{Name: "graph " + role.String() + "s", Size: off})
		}
	}
	for _, t := range g.tensors {
		if placed[t.id] || !t.Persistent() || !live(t) {
			continue
		}
		p.Mem[t.id] = Mem{Buf: len(p.Buffers), Size: t.Bytes()}
		p.Buffers = append(p.Buffers, BufferSpec{Name: t.name, Size: t.Bytes()})
	}
	p.Seed = Mem{Buf: len(p.Buffers), Size: 8}
	p.Buffers = append(p.Buffers, BufferSpec{Name: "graph seed", Size: 8})
}
