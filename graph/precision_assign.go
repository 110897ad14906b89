package graph

import "errors"

// halfOp is implemented by ops whose kernels have a float16-storage
// variant: halfSlots says which inputs and outputs that variant stores as
// float16 (the others stay float32 in both variants).
type halfOp interface {
	halfSlots() (ins, outs []bool)
}

// ApplyPrecision sets the storage type of g's activations for p, before
// the graph is planned (PlanMemory sizes buffers by dtype). Under FP16 an
// activation (or intermediate gradient) is stored as float16 when every
// node that writes or reads it runs a float16 variant with that operand
// in a float16 slot; everything else stays float32: parameters, their
// gradients, optimizer state, inputs, kept tensors (the loss, logits)
// and whatever an op without a float16 kernel touches. A node runs its
// float16 variant only when all its float16 slots are float16, so the
// assignment is the largest consistent one, found by a fixpoint. FP32
// restores float32 everywhere; BF16 is refused (no bfloat16 kernels).
func ApplyPrecision(g *Graph, p Precision) error {
	switch p {
	case FP32, FP16:
	case BF16:
		return errors.New("graph: precision bf16: no kernel has a bfloat16 variant")
	default:
		return errors.New("graph: unknown precision " + p.String())
	}
	for _, t := range g.tensors {
		if t.dtype == Float16 {
			t.dtype = Float32
		}
	}
	if p == FP32 {
		return nil
	}
	half := halfAssignment(g)
	for _, t := range g.tensors {
		if half[t.id] {
			t.dtype = Float16
		}
	}
	return nil
}

// halfAssignment marks the tensors FP16 stores as float16.
func halfAssignment(g *Graph) []bool {
	// ok[t]: t may be float16; mode[n]: n runs its float16 variant.
	ok := make([]bool, len(g.tensors))
	for _, t := range g.tensors {
		ok[t.id] = t.role == Activation && !t.keep && t.dtype == Float32 && t.node != nil
	}
	mode := make([]bool, len(g.nodes))
	slots := make([][2][]bool, len(g.nodes))
	for _, n := range g.nodes {
		h, isHalf := n.op.(halfOp)
		if isHalf {
			ins, outs := h.halfSlots()
			slots[n.id] = [2][]bool{ins, outs}
		}
		mode[n.id] = isHalf
	}
	// A tensor in a float32 slot, or a slot of a node running float32,
	// is float32; a node with a float32 tensor in a float16 slot runs
	// float32. Repeat until nothing changes (each pass only clears).
	slotHalf := func(n *Node, out bool, i int) bool {
		if !mode[n.id] {
			return false
		}
		s := slots[n.id][0]
		if out {
			s = slots[n.id][1]
		}
		return i < len(s) && s[i]
	}
	for changed := true; changed; {
		changed = false
		for _, n := range g.nodes {
			for out, ts := range [2][]*Tensor{n.ins, n.outs} {
				for i, t := range ts {
					if t == nil {
						continue
					}
					half := slotHalf(n, out == 1, i)
					if !half && ok[t.id] {
						ok[t.id], changed = false, true
					}
					if half && !ok[t.id] {
						mode[n.id], changed = false, true
					}
				}
			}
		}
	}
	return ok
}
