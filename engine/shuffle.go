package engine

import (
	"cmp"
	"container/heap"
	"math/rand/v2"
	"slices"
)

// Reordered dispatches (Options.ShuffleDispatch, $NFVK_SHUFFLE_DISPATCH).
//
// lavapipe runs the dispatches of a command buffer one after another in
// recorded order, so a dependency the declared ranges miss (an access
// declared Read that writes, a range computed too small elsewhere, a
// forgotten Barrier) gives right results here and wrong ones on a GPU
// that overlaps independent dispatches. With a seed, Record writes the
// dispatches in a random order that respects every declared dependency
// (a random topological order of the hazard graph: dispatches move
// inside their barrier-free group and across groups), and places the
// barriers anew for that order. A missing dependency then puts a
// consumer before its producer, deterministically for the seed, and the
// result is wrong on lavapipe too.

// step is one dispatch as Record writes it: an index into Program.ds and
// whether a barrier precedes it.
type step struct {
	idx     int
	barrier bool
	hazard  string
}

// schedule is the order Record writes: the planned order, or a shuffled
// one when the device has a shuffle seed.
func (p *Program) schedule() []step {
	if seed := p.dev.opts.ShuffleDispatch; seed > 0 {
		return shuffleSchedule(p.ds, uint64(seed))
	}
	out := make([]step, len(p.ds))
	for i, d := range p.ds {
		out[i] = step{i, d.BarrierBefore, d.Hazard}
	}
	return out
}

// shuffleSchedule returns a random valid order of ds for seed, with its
// barriers. Explicit barriers (Program.Barrier) stay where they are: no
// dispatch crosses one.
func shuffleSchedule(ds []dispatch, seed uint64) []step {
	rng := rand.New(rand.NewPCG(seed, 0x6e66766b)) // "nfvk"
	rs := make([][2][]region, len(ds))
	for i, d := range ds {
		rs[i][0], rs[i][1] = regions(d.args)
	}
	var order []int
	fence := make([]bool, len(ds)) // an explicit barrier precedes position k
	for start := 0; start < len(ds); {
		end := start + 1
		for end < len(ds) && !ds[end].explicit {
			end++
		}
		fence[len(order)] = ds[start].explicit
		order = append(order, randomTopoOrder(rs, start, end, rng)...)
		start = end
	}
	out := make([]step, len(order))
	var h hazards
	for k, i := range order {
		hz := h.check(rs[i][0], rs[i][1])
		if fence[k] && hz == "" {
			hz = "explicit"
		}
		if hz != "" {
			h.barrier()
		}
		h.add(rs[i][0], rs[i][1])
		out[k] = step{i, hz != "", hz}
	}
	return out
}

// accessMap tracks, for every byte range of every block touched so far,
// its last writer and the readers since: a dispatch depends on the last
// writers of what it reads, and on the last writers and later readers of
// what it writes. Those edges imply every other conflict (through the
// writers in between), so the graph costs linear, not quadratic, time.
type accessMap struct {
	segs map[int][]accessSeg // by block, sorted, disjoint
}

type accessSeg struct {
	start, end int64
	writer     int // -1: none yet
	readers    []int
}

// deps returns the dispatches dispatch j depends on (maybe repeated) and
// records j's accesses.
func (m *accessMap) deps(rw [2][]region, j int) []int {
	if m.segs == nil {
		m.segs = map[int][]accessSeg{}
	}
	var out []int
	for _, r := range rw[0] {
		for _, sg := range m.cover(r) {
			if sg.writer >= 0 {
				out = append(out, sg.writer)
			}
		}
	}
	for _, r := range rw[1] {
		for _, sg := range m.cover(r) {
			if sg.writer >= 0 {
				out = append(out, sg.writer)
			}
			out = append(out, sg.readers...)
		}
	}
	for _, r := range rw[0] {
		segs := m.cover(r)
		for k := range segs {
			segs[k].readers = append(segs[k].readers, j)
		}
	}
	for _, r := range rw[1] {
		segs := m.cover(r)
		for k := range segs {
			segs[k].writer, segs[k].readers = j, nil
		}
	}
	return out
}

// cover splits the block's segments so that r's bounds are segment
// bounds, fills r's gaps with empty segments, and returns the segments
// inside r (aliasing the map's storage).
func (m *accessMap) cover(r region) []accessSeg {
	segs := m.segs[r.block]
	split := func(at int64) {
		for k, sg := range segs {
			if sg.start < at && at < sg.end {
				left, right := sg, sg
				left.end, right.start = at, at
				left.readers = append([]int(nil), sg.readers...)
				segs = append(segs[:k+1], segs[k:]...)
				segs[k], segs[k+1] = left, right
				return
			}
		}
	}
	split(r.start)
	split(r.end)
	var out []accessSeg
	at := r.start
	for _, sg := range segs {
		if sg.end <= r.start || sg.start >= r.end {
			out = append(out, sg)
			continue
		}
		if sg.start > at {
			out = append(out, accessSeg{start: at, end: sg.start, writer: -1})
		}
		out = append(out, sg)
		at = sg.end
	}
	if at < r.end {
		out = append(out, accessSeg{start: at, end: r.end, writer: -1})
	}
	slices.SortFunc(out, func(a, b accessSeg) int { return cmp.Compare(a.start, b.start) })
	m.segs[r.block] = out
	lo := slices.IndexFunc(out, func(sg accessSeg) bool { return sg.start >= r.start })
	hi := slices.IndexFunc(out, func(sg accessSeg) bool { return sg.start >= r.end })
	if hi < 0 {
		hi = len(out)
	}
	return out[lo:hi]
}

// conflicts reports whether dispatch b depends on dispatch a (RAW, WAR
// or WAW on overlapping bytes), from their read and written regions.
func conflicts(a, b [2][]region) bool {
	overlap := func(x, y []region) bool {
		for _, r := range x {
			for _, o := range y {
				if r.overlaps(o) {
					return true
				}
			}
		}
		return false
	}
	return overlap(a[1], b[0]) || overlap(a[1], b[1]) || overlap(a[0], b[1])
}

// randomTopoOrder orders dispatches start..end-1 so that each comes after
// every earlier one it conflicts with, picking among the ready ones by a
// random priority.
func randomTopoOrder(rs [][2][]region, start, end int, rng *rand.Rand) []int {
	n := end - start
	succ := make([][]int, n)
	indeg := make([]int, n)
	var m accessMap
	stamp := make([]int, n) // stamp[i] == j+1: edge i->j already added
	for j := 0; j < n; j++ {
		for _, i := range m.deps(rs[start+j], j) {
			if stamp[i] != j+1 {
				stamp[i] = j + 1
				succ[i] = append(succ[i], j)
				indeg[j]++
			}
		}
	}
	ready := &readyHeap{prio: make([]uint64, n)}
	for i := range ready.prio {
		ready.prio[i] = rng.Uint64()
	}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, n)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, start+i)
		for _, j := range succ[i] {
			if indeg[j]--; indeg[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	return order
}

// readyHeap holds the ready dispatches, highest priority first.
type readyHeap struct {
	prio []uint64
	idx  []int
}

func (h *readyHeap) Len() int           { return len(h.idx) }
func (h *readyHeap) Less(a, b int) bool { return h.prio[h.idx[a]] > h.prio[h.idx[b]] }
func (h *readyHeap) Swap(a, b int)      { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *readyHeap) Push(x any)         { h.idx = append(h.idx, x.(int)) }
func (h *readyHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}

// Recorded returns the dispatches in the order Record wrote them, with
// the barriers recorded between them: the planned order (Dispatches)
// unless the device shuffles dispatches. Empty before Record.
func (p *Program) Recorded() []DispatchInfo {
	out := make([]DispatchInfo, len(p.rec))
	for k, s := range p.rec {
		out[k] = p.ds[s.idx].DispatchInfo
		out[k].BarrierBefore, out[k].Hazard = s.barrier, s.hazard
	}
	return out
}
