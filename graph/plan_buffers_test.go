package graph_test

import (
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// pooledRoles are the roles PlanMemory places in one buffer each.
var pooledRoles = []graph.Role{graph.Parameter, graph.Gradient, graph.OptimizerState, graph.Average}

// TestPlanBuffers checks where PlanMemory puts every tensor: arena
// tensors at their Offset in the arena (buffer 0), each pooled role in
// one buffer in tensor order at consecutive aligned offsets (so a
// multi-tensor kernel binds a role as one range), the averages' pool
// laid out like the parameters' when they are added in the parameters'
// order, every other persistent tensor in a buffer of its own, node
// scratch in the arena, the seed last, every Mem inside its buffer and
// the tensors of dead nodes with the zero Mem.
func TestPlanBuffers(t *testing.T) {
	optimNet := func(t *testing.T) (*graph.Graph, []*graph.Tensor) {
		o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.DeepMind, EMA: graphtest.EMAMirrored})
		return o.G, o.Averages
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) (g *graph.Graph, mirrored []*graph.Tensor)
		align int64
	}{
		{"optimizer-ema", optimNet, 64},
		{"optimizer-ema-align256", optimNet, 256},
		// The fused drop path is dead; x's gradient is a kept activation.
		{"conv-net", func(t *testing.T) (*graph.Graph, []*graph.Tensor) { return graphtest.NewConvNet(t, 2).B.G, nil }, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, mirrored := tc.build(t)
			p, err := graph.PlanMemory(g, graph.PlanOptions{Align: tc.align, Backend: &recorder{}})
			graphtest.Must(t, err)
			graphtest.Must(t, p.Check(g))
			used := checkTensorMem(t, g, p)
			checkPools(t, g, p, mirrored)
			for n, size := range p.Scratch {
				want := graph.Mem{}
				if size > 0 {
					want = graph.Mem{Buf: 0, Off: p.ScratchOffset[n], Size: size}
				}
				if p.ScratchMem[n] != want {
					t.Errorf("node %d: scratch %+v, want %+v", n, p.ScratchMem[n], want)
				}
			}
			last := len(p.Buffers) - 1
			if p.Seed != (graph.Mem{Buf: last, Size: 8}) || p.Buffers[last] != (graph.BufferSpec{Name: "graph seed", Size: 8}) {
				t.Errorf("seed %+v in %+v, want the whole last buffer of 8 bytes", p.Seed, p.Buffers[last])
			}
			used[last] = true
			for i, u := range used {
				if !u {
					t.Errorf("buffer %d %+v holds nothing", i, p.Buffers[i])
				}
			}
		})
	}
}

// checkTensorMem checks every tensor's Mem against its kind and returns
// which buffers hold a tensor.
func checkTensorMem(t *testing.T, g *graph.Graph, p *graph.Plan) []bool {
	t.Helper()
	if p.PeakBytes == 0 || p.Buffers[0] != (graph.BufferSpec{Name: "graph arena", Size: p.PeakBytes}) {
		t.Fatalf("buffer 0 %+v, want the %d-byte arena", p.Buffers[0], p.PeakBytes)
	}
	used := make([]bool, len(p.Buffers))
	dead := 0
	for _, tt := range g.Tensors() {
		m := p.Mem[tt.ID()]
		switch {
		case tt.Node() != nil && !p.Run[tt.Node().ID()]:
			dead++
			if m != (graph.Mem{}) || p.Offset[tt.ID()] != -1 {
				t.Errorf("%v of a dead node: %+v at offset %d, want the zero Mem and -1", tt, m, p.Offset[tt.ID()])
			}
			continue
		case !tt.Persistent():
			if want := (graph.Mem{Buf: 0, Off: p.Offset[tt.ID()], Size: tt.Bytes()}); m != want || p.Offset[tt.ID()] < 0 {
				t.Errorf("arena tensor %v: %+v, want %+v", tt, m, want)
			}
		case !isPooled(tt.Role()):
			want := graph.BufferSpec{Name: tt.Name(), Size: tt.Bytes()}
			if m.Buf <= 0 || m.Off != 0 || m.Size != tt.Bytes() || p.Buffers[m.Buf] != want || used[m.Buf] {
				t.Errorf("%v (%v): %+v, want a buffer %+v of its own", tt, tt.Role(), m, want)
			}
		}
		if m.Size != tt.Bytes() || m.Off%p.Align != 0 || m.Off+m.Size > p.Buffers[m.Buf].Size {
			t.Errorf("%v: %+v: want its %d bytes at an aligned offset inside buffer %+v", tt, m, tt.Bytes(), p.Buffers[m.Buf])
		}
		used[m.Buf] = true
	}
	t.Logf("%d tensors (%d dead) in %d buffers", len(g.Tensors()), dead, len(p.Buffers))
	return used
}

func isPooled(r graph.Role) bool {
	for _, q := range pooledRoles {
		if q == r {
			return true
		}
	}
	return false
}

// checkPools checks that each pooled role's tensors fill one buffer in
// tensor order, and that mirrored (averages added in the parameters'
// order) has the parameters' layout.
func checkPools(t *testing.T, g *graph.Graph, p *graph.Plan, mirrored []*graph.Tensor) {
	t.Helper()
	pools := map[graph.Role][]*graph.Tensor{}
	for _, tt := range g.Tensors() {
		if isPooled(tt.Role()) && (tt.Node() == nil || p.Run[tt.Node().ID()]) {
			pools[tt.Role()] = append(pools[tt.Role()], tt)
		}
	}
	for _, role := range pooledRoles {
		ts := pools[role]
		if len(ts) == 0 {
			continue
		}
		buf, off := p.Mem[ts[0].ID()].Buf, int64(0)
		for _, tt := range ts {
			if want := (graph.Mem{Buf: buf, Off: off, Size: tt.Bytes()}); p.Mem[tt.ID()] != want {
				t.Errorf("%v pool: %v at %+v, want %+v", role, tt, p.Mem[tt.ID()], want)
			}
			off += (tt.Bytes() + p.Align - 1) / p.Align * p.Align
		}
		if want := (graph.BufferSpec{Name: "graph " + role.String() + "s", Size: off}); p.Buffers[buf] != want {
			t.Errorf("%v pool: buffer %+v, want %+v", role, p.Buffers[buf], want)
		}
	}
	if mirrored == nil {
		return
	}
	params := pools[graph.Parameter]
	if len(mirrored) != len(params) {
		t.Fatalf("%d averages for %d parameters", len(mirrored), len(params))
	}
	for i, a := range mirrored {
		ma, mp := p.Mem[a.ID()], p.Mem[params[i].ID()]
		if ma.Off != mp.Off || ma.Size != mp.Size {
			t.Errorf("average %v at %+v, its parameter %v at %+v: want the same layout", a, ma, params[i], mp)
		}
	}
	if pa, pp := p.Buffers[p.Mem[mirrored[0].ID()].Buf], p.Buffers[p.Mem[params[0].ID()].Buf]; pa.Size != pp.Size {
		t.Errorf("average pool of %d bytes, parameter pool of %d", pa.Size, pp.Size)
	}
}
