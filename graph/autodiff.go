package graph

import (
	"fmt"
)

// Reverse-mode automatic differentiation. Each op's grad rule adds
// ordinary backward nodes (ops_*.go), so the backward pass is planned,
// lowered and executed exactly like the forward one.

// Gradients adds the backward pass of the scalar loss and returns the
// gradient of each param (nil for a param the loss does not depend on).
// Parameter gradients become persistent Gradient tensors.
func (g *Graph) Gradients(loss *Tensor, params []*Tensor) ([]*Tensor, error) {
	if loss == nil || loss.g != g {
		return nil, fmt.Errorf("graph: gradients: loss is not a tensor of this graph")
	}
	if loss.Size() != 1 {
		return nil, fmt.Errorf("graph: gradients: loss %v is not a scalar", loss)
	}
	seed, err := g.Constant("dloss", loss.shape, []float32{1})
	if err != nil {
		return nil, err
	}
	return g.VJP([]*Tensor{loss}, []*Tensor{seed}, params)
}

// VJP adds the vector-Jacobian product: the gradients of xs given the
// output gradients dys of ys (same shapes), summing over the ys. Where a
// tensor is used more than once its gradient contributions are added.
func (g *Graph) VJP(ys, dys, xs []*Tensor) ([]*Tensor, error) {
	if len(ys) != len(dys) {
		return nil, fmt.Errorf("graph: vjp: %d outputs, %d output gradients", len(ys), len(dys))
	}
	end := len(g.nodes) // differentiate through the nodes that exist now
	// dep marks tensors that depend on some x: only they need gradients.
	dep := make([]bool, len(g.tensors))
	for _, x := range xs {
		if x == nil || x.g != g {
			return nil, fmt.Errorf("graph: vjp: %v is not a tensor of this graph", x)
		}
		if x.dtype != Float32 {
			return nil, fmt.Errorf("graph: vjp: cannot differentiate with respect to %v (%v)", x, x.dtype)
		}
		dep[x.id] = true
	}
	for _, n := range g.nodes[:end] {
		for _, in := range n.ins {
			if in != nil && dep[in.id] {
				for _, o := range n.outs {
					dep[o.id] = true
				}
				break
			}
		}
	}
	grads := map[*Tensor]*Tensor{}
	accumulate := func(t, d *Tensor) error {
		old, ok := grads[t]
		if !ok {
			grads[t] = d
			return nil
		}
		sum, err := g.Add(old, d)
		if err != nil {
			return fmt.Errorf("graph: accumulate gradient of %v: %w", t, err)
		}
		grads[t] = sum
		return nil
	}
	for i, y := range ys {
		if y == nil || y.g != g || dys[i] == nil || !y.shape.Equal(dys[i].shape) {
			return nil, fmt.Errorf("graph: vjp: output %d (%v) and its gradient (%v) do not match", i, y, dys[i])
		}
		if err := accumulate(y, dys[i]); err != nil {
			return nil, err
		}
	}
	for i := end - 1; i >= 0; i-- {
		n := g.nodes[i]
		douts := make([]*Tensor, len(n.outs))
		flows := false
		for j, o := range n.outs {
			douts[j] = grads[o]
			flows = flows || douts[j] != nil
		}
		if !flows {
			continue
		}
		need := make([]bool, len(n.ins))
		needAny := false
		for j, in := range n.ins {
			need[j] = in != nil && in.dtype == Float32 && dep[in.id]
			needAny = needAny || need[j]
		}
		if !needAny {
			continue
		}
		if douts[0] == nil {
			return nil, fmt.Errorf("graph: gradient of %v: only secondary outputs are used", n)
		}
		dins, err := n.op.grad(g, n, douts, need)
		if err != nil {
			return nil, fmt.Errorf("graph: gradient of %v: %w", n, err)
		}
		for j, d := range dins {
			if j < len(need) && need[j] && d != nil {
				if err := accumulate(n.ins[j], d); err != nil {
					return nil, err
				}
			}
		}
	}
	res := make([]*Tensor, len(xs))
	for i, x := range xs {
		d := grads[x]
		res[i] = d
		if d != nil && x.role == Parameter && d.role == Activation {
			d.role = Gradient
			d.name = "grad(" + x.name + ")"
		}
	}
	return res, nil
}
