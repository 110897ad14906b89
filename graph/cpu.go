package graph

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// cpuStep is what an op's CPU forward may read besides its inputs.
type cpuStep struct {
	seed uint64 // the step's random seed (dropout, drop path)
	node *Node
}

// CPU executes a graph with the kernels/ref references, in float64 (for
// finite-difference gradient checks) or float32 (to compare against the
// GPU). Every tensor has its own slice: nothing is planned.
type CPU[T ref.Float] struct {
	g    *Graph
	vals [][]T
}

// NewCPU returns a CPU executor of g; parameters and inputs start at zero,
// constants at their values. Nodes added to g later are picked up.
func NewCPU[T ref.Float](g *Graph) *CPU[T] {
	c := &CPU[T]{g: g}
	c.grow()
	return c
}

// grow allocates the tensors added since the last call.
func (c *CPU[T]) grow() {
	for _, t := range c.g.tensors[len(c.vals):] {
		v := make([]T, t.Size())
		for i, x := range t.init {
			v[i] = T(x)
		}
		c.vals = append(c.vals, v)
	}
}

// Set copies v into t (a parameter, input or state).
func (c *CPU[T]) Set(t *Tensor, v []T) error {
	c.grow()
	if t.g != c.g {
		return fmt.Errorf("graph: cpu: set %v: tensor of another graph", t)
	}
	if len(v) != t.Size() {
		return fmt.Errorf("graph: cpu: set %v: %d values, want %d", t, len(v), t.Size())
	}
	copy(c.vals[t.id], v)
	return nil
}

// Value is t's current value (the executor's own slice: copy it to keep).
func (c *CPU[T]) Value(t *Tensor) []T {
	c.grow()
	return c.vals[t.id]
}

// Run feeds the inputs, then executes every node in order (forward,
// backward, updates) with the given seed for random ops.
func (c *CPU[T]) Run(ctx context.Context, seed uint64, feeds map[*Tensor][]T) error {
	return c.RunPhase(ctx, -1, seed, feeds)
}

// RunPhase is Run for the nodes of one phase (Graph.SetPhase); -1 runs
// them all.
func (c *CPU[T]) RunPhase(ctx context.Context, phase int, seed uint64, feeds map[*Tensor][]T) (err error) {
	c.grow()
	for t, v := range feeds {
		if err := c.Set(t, v); err != nil {
			return err
		}
	}
	st := &cpuStep{seed: seed}
	var cur *Node
	defer func() {
		// The references panic only on shapes the graph already checked:
		// report such a bug as an error naming the node.
		if r := recover(); r != nil {
			err = fmt.Errorf("graph: cpu: %v: %v", cur, r)
		}
	}()
	var in32, out32 [][]float32
	var in64, out64 [][]float64
	for _, n := range c.g.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if phase >= 0 && n.phase != phase {
			continue
		}
		cur, st.node = n, n
		switch vals := any(c.vals).(type) {
		case [][]float32:
			in32, out32 = gather(vals, n.ins, in32), gather(vals, n.outs, out32)
			n.op.cpu32(st, in32, out32)
		case [][]float64:
			in64, out64 = gather(vals, n.ins, in64), gather(vals, n.outs, out64)
			n.op.cpu64(st, in64, out64)
		}
	}
	return nil
}

// gather returns the values of ts (nil for absent inputs), reusing buf.
func gather[T ref.Float](vals [][]T, ts []*Tensor, buf [][]T) [][]T {
	buf = buf[:0]
	for _, t := range ts {
		if t == nil {
			buf = append(buf, nil)
		} else {
			buf = append(buf, vals[t.id])
		}
	}
	return buf
}
