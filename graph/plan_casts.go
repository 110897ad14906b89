package graph

import "fmt"

// Cast is a converted copy of one operand of a node, in the node's arena
// scratch: where a node's kernel reads (or writes) a slot in one storage
// type and the tensor there is stored in the other (ApplyPrecision), the
// step converts the input into the copy before the node, or the node
// writes the copy and the step converts it into the output after.
type Cast struct {
	// Out: the copy stands for output Slot (else input Slot).
	Out  bool
	Slot int
	// Tensor is the operand; Mem the copy, in the slot's type (Mem.Type).
	Tensor *Tensor
	Mem    Mem
	rel    int64 // offset in the node's cast region
}

// nodeCasts lists the operands of n whose storage type differs from its
// kernel's slot, with their offsets in a cast region of the returned
// size (each copy aligned to align).
func nodeCasts(n *Node, align int64) ([]Cast, int64) {
	var cs []Cast
	size := int64(0)
	for out, ts := range [2][]*Tensor{n.ins, n.outs} {
		for i, t := range ts {
			if t == nil || t.dtype != Float32 && !t.dtype.is16() {
				continue
			}
			want := slotDType(n, out == 1, i)
			if t.dtype == want {
				continue
			}
			cs = append(cs, Cast{Out: out == 1, Slot: i, Tensor: t, rel: size,
				Mem: Mem{Size: want.Size() * int64(t.Size()), Type: want}})
			size += alignUp(want.Size()*int64(t.Size()), align)
		}
	}
	return cs, size
}

// planScratch sizes every running node's arena scratch, by node ID: its
// op's own (Plan.Scratch), then its converted operands (Plan.Casts).
func (p *Plan) planScratch(g *Graph, b Backend, align int64) []int64 {
	p.Scratch, p.ScratchOffset = make([]int64, len(g.nodes)), make([]int64, len(g.nodes))
	p.Casts, p.castOff = make([][]Cast, len(g.nodes)), make([]int64, len(g.nodes))
	sizes := make([]int64, len(g.nodes))
	for _, n := range g.nodes {
		p.ScratchOffset[n.id] = -1
		if !p.Run[n.id] {
			continue
		}
		if sc, ok := n.op.(scratcher); ok && b != nil {
			p.Scratch[n.id] = max(sc.scratch(b, n), 0)
		}
		var castBytes int64
		p.Casts[n.id], castBytes = nodeCasts(n, align)
		p.castOff[n.id] = alignUp(p.Scratch[n.id], align)
		if castBytes > 0 || p.Scratch[n.id] > 0 {
			sizes[n.id] = p.castOff[n.id] + castBytes
		}
	}
	return sizes
}

// placeCasts gives every cast of the plan its memory, castOff bytes past
// its node's scratch offset; at maps an arena offset and size to a Mem.
func (p *Plan) placeCasts(at func(off, size int64) Mem) {
	for id, cs := range p.Casts {
		for i := range cs {
			typ := cs[i].Mem.Type
			cs[i].Mem = at(p.ScratchOffset[id]+p.castOff[id]+cs[i].rel, cs[i].Mem.Size)
			cs[i].Mem.Type = typ
		}
	}
}

// Caster is implemented by backends that convert between float32 and
// 16-bit storage (what precisions FP16 and BF16 need): dst = src
// converted, both of n elements, Mem.Type giving each one's type.
type Caster interface {
	Cast(dst, src Mem) error
}

// lowerNode lowers n with its converted operands: inputs are converted
// into their copies before the node, outputs out of theirs after.
func (l *lowering) lowerNode(n *Node) error {
	cs := l.plan.Casts[n.id]
	if len(cs) == 0 {
		l.over = nil
		return n.op.lower(l, n)
	}
	c, ok := l.b.(Caster)
	if !ok {
		return fmt.Errorf("graph: the backend cannot convert %v between float16 and float32 storage", cs[0].Tensor)
	}
	l.over = nil
	for _, x := range cs {
		if !x.Out {
			if err := c.Cast(x.Mem, l.plan.Mem[x.Tensor.id]); err != nil {
				return err
			}
		}
	}
	l.over = make(map[int]Mem, len(cs))
	for _, x := range cs {
		l.over[x.Tensor.id] = x.Mem
	}
	err := n.op.lower(l, n)
	l.over = nil
	if err != nil {
		return err
	}
	for _, x := range cs {
		if x.Out {
			if err := c.Cast(l.plan.Mem[x.Tensor.id], x.Mem); err != nil {
				return err
			}
		}
	}
	return nil
}
