package graph

import (
	"context"
	"slices"
	"testing"
)

// TestSplitPhase: a phase split after two of its nodes becomes three, the
// later phase moves up, bad ends are refused, and running the phases in
// order computes what the whole graph does.
func TestSplitPhase(t *testing.T) {
	g := New()
	x, err := g.Input("x", Shape{4})
	if err != nil {
		t.Fatal(err)
	}
	var ts []*Tensor
	cur := x
	for range 4 {
		if cur, err = g.Scale(cur, 2); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, cur)
	}
	if err := g.SetPhase(1); err != nil {
		t.Fatal(err)
	}
	out, err := g.Scale(cur, 3)
	if err != nil {
		t.Fatal(err)
	}
	g.Keep(append(ts, out)...)
	n0, n2 := ts[0].Node(), ts[2].Node()
	for _, bad := range [][]*Node{{n2, n0}, {out.Node()}, {nil}} {
		if err := g.SplitPhase(0, bad); err == nil {
			t.Errorf("split at %v accepted", bad)
		}
	}
	if err := g.SplitPhase(0, []*Node{n0, n2}); err != nil {
		t.Fatal(err)
	}
	var phases []int
	for _, n := range g.Nodes() {
		phases = append(phases, n.Phase())
	}
	if want := []int{0, 1, 1, 2, 3}; !slices.Equal(phases, want) || g.Phases() != 4 {
		t.Fatalf("phases %v of %d, want %v of 4", phases, g.Phases(), want)
	}
	c := NewCPU[float32](g)
	feeds := map[*Tensor][]float32{x: {1, 2, 3, 4}}
	for p := range g.Phases() {
		if err := c.RunPhase(context.Background(), p, 0, feeds); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Value(out); !slices.Equal(got, []float32{48, 96, 144, 192}) {
		t.Fatalf("out = %v", got)
	}
}
