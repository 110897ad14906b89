package graph

import "errors"

// halfOp is implemented by ops whose kernels have 16-bit storage
// variants (float16 and bfloat16): halfSlots says which inputs and
// outputs those variants store in 16 bits (the others stay float32 in
// every variant).
type halfOp interface {
	halfSlots() (ins, outs []bool)
}

// follower is implemented by the elementwise ops (activations, their
// backward, add) whose 16-bit kernel is worth running only on 16-bit
// operands: they follow their inputs' storage type, so that the float32
// chains (the SE's linears on pooled vectors, the head) pay no converted
// copies.
type follower interface {
	halfOp
	followsInputs()
}

func (*act) followsInputs()         {}
func (*actBackward) followsInputs() {}
func (add) followsInputs()          {}

// ApplyPrecision sets the storage type of g's activations for p, before
// the graph is planned (PlanMemory sizes buffers by dtype), as autocast
// does: under FP16 (BF16) every node whose op has a 16-bit storage kernel
// runs it, and an activation (or intermediate gradient) such a node
// writes in a 16-bit slot is stored as float16 (bfloat16). Everything
// else stays float32: parameters, their gradients, optimizer state,
// inputs, kept tensors (the loss, logits) and what ops without a 16-bit
// kernel write. Where a node reads or writes a tensor of the other type,
// the plan gives it a converted copy in its scratch (Plan.Casts). An
// elementwise op (a follower) runs its 16-bit kernel only when one of its
// 16-bit-slot inputs is stored in 16 bits already. FP32 restores float32
// everywhere.
func ApplyPrecision(g *Graph, p Precision) error {
	switch p {
	case FP32, FP16, BF16:
	default:
		return errors.New("graph: unknown precision " + p.String())
	}
	for _, t := range g.tensors {
		if t.dtype.is16() {
			t.dtype = Float32
		}
	}
	half := p.ActivationDType()
	// Nodes are in creation order, so a node's inputs have their final
	// types when it is reached.
	for _, n := range g.nodes {
		n.store = Float32
		if _, ok := n.op.(halfOp); ok {
			n.store = half
		}
		if f, ok := n.op.(follower); ok && !anyHalfInput(n, f) {
			n.store = Float32
		}
		// A node whose 16-bit output would be a parameter's gradient or a
		// kept tensor runs float32: those are never rounded to 16 bits.
		for i, t := range n.outs {
			if slotHalf(n, true, i) && !(t.role == Activation && !t.keep) {
				n.store = Float32
			}
		}
		for i, t := range n.outs {
			if slotHalf(n, true, i) {
				t.dtype = n.store
			}
		}
	}
	return nil
}

// anyHalfInput reports whether one of the inputs f's 16-bit kernel
// stores in 16 bits is a 16-bit tensor.
func anyHalfInput(n *Node, f follower) bool {
	ins, _ := f.halfSlots()
	for i, t := range n.ins {
		if i < len(ins) && ins[i] && t != nil && t.dtype.is16() {
			return true
		}
	}
	return false
}

// slotHalf reports whether n's input (or output) i is stored in 16 bits
// by the kernel n runs.
func slotHalf(n *Node, out bool, i int) bool {
	if n.store == Float32 {
		return false
	}
	ins, outs := n.op.(halfOp).halfSlots()
	s := ins
	if out {
		s = outs
	}
	return i < len(s) && s[i]
}

// slotDType is the storage type n's kernel reads (or writes) at slot i.
func slotDType(n *Node, out bool, i int) DType {
	if slotHalf(n, out, i) {
		return n.store
	}
	return Float32
}
