package graph

import "fmt"

// SplitPhase divides phase p after each node of ends (nodes of phase p,
// in execution order): the nodes of p up to ends[0] stay in p, those up
// to ends[1] form phase p+1, and so on; the nodes after the last end
// form one more phase, and the later phases move up by len(ends). A host
// running the phases in order may then use a tensor a phase produced
// while the device runs the next ones: data-parallel training sends a
// bucket of gradients over the network while the backward pass goes on.
func (g *Graph) SplitPhase(p int, ends []*Node) error {
	last := -1
	for i, n := range ends {
		if n == nil || n.id >= len(g.nodes) || g.nodes[n.id] != n {
			return fmt.Errorf("graph: split phase %d: end %d is not a node of this graph", p, i)
		}
		if n.phase != p {
			return fmt.Errorf("graph: split phase %d: end %d (node %d %s) is in phase %d", p, i, n.id, n.op.name(), n.phase)
		}
		if n.id <= last {
			return fmt.Errorf("graph: split phase %d: ends out of execution order (node %d after node %d)", p, n.id, last)
		}
		last = n.id
	}
	if len(ends) == 0 {
		return nil
	}
	k := 0
	for _, n := range g.nodes {
		switch {
		case n.phase > p:
			n.phase += len(ends)
		case n.phase == p:
			n.phase += k
			if k < len(ends) && n == ends[k] {
				k++
			}
		}
	}
	g.phases += len(ends)
	if g.phase >= p {
		g.phase += len(ends)
	}
	return nil
}
