package graph

import "testing"

// TestApplyPrecision: FP16 stores the activations a float16 kernel writes
// as float16, never a parameter gradient or a kept tensor (their writer
// runs float32 instead); elementwise ops follow their inputs' type; FP32
// restores float32 everywhere.
func TestApplyPrecision(t *testing.T) {
	g := New()
	x, err := g.Input("x", Shape{2, 3, 4, 4})
	if err != nil {
		t.Fatal(err)
	}
	w, err := g.Param("w", Shape{2, 3, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.Act(x, 2, 1) // an elementwise op on a float32 input
	if err != nil {
		t.Fatal(err)
	}
	pool, err := g.AvgPool2x2(f) // an op with a float16 kernel
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.Act(pool, 2, 1) // an elementwise op on a float16 input
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Add(a, a) // a float16 sum
	if err != nil {
		t.Fatal(err)
	}
	k, err := g.Add(s, w) // kept: its writer must run float32
	if err != nil {
		t.Fatal(err)
	}
	g.Keep(k)
	if err := ApplyPrecision(g, FP16); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    *Tensor
		want DType
	}{{x, Float32}, {w, Float32}, {f, Float32}, {pool, Float16}, {a, Float16}, {s, Float16}, {k, Float32}} {
		if c.t.DType() != c.want {
			t.Errorf("%v: %v, want %v", c.t, c.t.DType(), c.want)
		}
	}
	if k.Node().store != Float32 || f.Node().store != Float32 {
		t.Error("the kept sum's node or the float32 input's activation runs float16")
	}
	p, err := PlanMemory(g, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The pool reads f (float32) through a float16 copy; the kept add
	// reads s (float16) through a float32 copy; nothing else converts.
	for _, n := range g.Nodes() {
		want := 0
		if n == pool.Node() || n == k.Node() {
			want = 1
		}
		if got := len(p.Casts[n.ID()]); got != want {
			t.Errorf("%v: %d converted copies, want %d: %v", n, got, want, p.Casts[n.ID()])
		}
	}
	if p.Mem[a.ID()].Type != Float16 || p.Mem[k.ID()].Type != Float32 || p.Mem[a.ID()].Size != 2*24 {
		t.Errorf("memory: a %+v, k %+v", p.Mem[a.ID()], p.Mem[k.ID()])
	}
	if err := ApplyPrecision(g, FP32); err != nil {
		t.Fatal(err)
	}
	if a.DType() != Float32 || s.DType() != Float32 {
		t.Errorf("fp32 left %v, %v", a.DType(), s.DType())
	}
	// BF16 makes the same choices with bfloat16.
	if err := ApplyPrecision(g, BF16); err != nil {
		t.Fatal(err)
	}
	if pool.DType() != BFloat16 || a.DType() != BFloat16 || s.DType() != BFloat16 || f.DType() != Float32 || k.DType() != Float32 {
		t.Errorf("bf16: pool %v, a %v, s %v, f %v, k %v", pool.DType(), a.DType(), s.DType(), f.DType(), k.DType())
	}
	if p, err := PlanMemory(g, PlanOptions{}); err != nil {
		t.Fatal(err)
	} else if c := p.Casts[pool.Node().ID()]; len(c) != 1 || c[0].Mem.Type != BFloat16 || p.Mem[a.ID()].Type != BFloat16 {
		t.Errorf("bf16 plan: pool's copy %+v, a %+v", c, p.Mem[a.ID()])
	}
	if err := ApplyPrecision(g, Precision(9)); err == nil {
		t.Error("an unknown precision accepted")
	}
}
