package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// fakeDispatches builds n dispatches over a few buffers of two blocks,
// each reading and writing random ranges, with an explicit barrier now
// and then: the scheduler's input without a device.
func fakeDispatches(rng *rand.Rand, n int) []dispatch {
	bufs := make([]*Buffer, 6)
	for i := range bufs {
		bufs[i] = &Buffer{name: fmt.Sprint("b", i), blk: &block{id: i % 2}, off: int64(i/2) * 1024, size: 1024}
	}
	var p Program
	for i := 0; i < n; i++ {
		var args []Arg
		for j := 0; j < 1+rng.IntN(3); j++ {
			b := bufs[rng.IntN(len(bufs))]
			off := int64(rng.IntN(4)) * 256
			args = append(args, Arg{b.Span().Sub(off, 256), Access(1 + rng.IntN(3))})
		}
		if rng.IntN(10) == 0 {
			p.Barrier()
		}
		p.plan(fmt.Sprint("d", i), &Pipeline{shader: "fake"}, [3]uint32{1, 1, 1}, nil, args)
	}
	return p.ds
}

// TestShuffleScheduleValid checks shuffled schedules against the
// declared dependencies: every dispatch runs after the earlier ones it
// conflicts with, a barrier separates them, no dispatch crosses an
// explicit barrier, and the order does change.
func TestShuffleScheduleValid(t *testing.T) {
	moved := 0
	for seed := uint64(1); seed <= 40; seed++ {
		ds := fakeDispatches(rand.New(rand.NewPCG(seed, 1)), 60)
		sched := shuffleSchedule(ds, seed)
		if len(sched) != len(ds) {
			t.Fatalf("seed %d: %d steps for %d dispatches", seed, len(sched), len(ds))
		}
		pos := make([]int, len(ds))
		lastBarrier := make([]int, len(sched)) // position of the last barrier at or before k
		seen := make([]bool, len(ds))
		for k, s := range sched {
			if seen[s.idx] {
				t.Fatalf("seed %d: dispatch %d recorded twice", seed, s.idx)
			}
			seen[s.idx], pos[s.idx] = true, k
			lastBarrier[k] = -1
			if k > 0 {
				lastBarrier[k] = lastBarrier[k-1]
			}
			if s.barrier {
				lastBarrier[k] = k
			}
			if s.idx != k {
				moved++
			}
		}
		rs := make([][2][]region, len(ds))
		for i, d := range ds {
			rs[i][0], rs[i][1] = regions(d.args)
		}
		for j := range ds {
			for i := 0; i < j; i++ {
				crosses := false
				for x := i + 1; x <= j; x++ {
					crosses = crosses || ds[x].explicit
				}
				if !conflicts(rs[i], rs[j]) && !crosses {
					continue
				}
				if pos[i] > pos[j] {
					t.Fatalf("seed %d: dispatch %d recorded before %d, which it depends on", seed, j, i)
				}
				if lastBarrier[pos[j]] <= pos[i] {
					t.Fatalf("seed %d: no barrier between dependent dispatches %d and %d", seed, i, j)
				}
			}
		}
	}
	if moved == 0 {
		t.Error("no seed moved any dispatch")
	}
}

// TestShuffleCatchesMissingBarrier plants the bug the option exists for:
// dispatches whose declared accesses hide a dependency (an output
// declared as read, so the scheduler puts no barrier between the writer
// and its reader). lavapipe runs them in recorded order, so without the
// option the results are right and the bug is invisible in them; with
// it they are wrong, for every seed tried. (Synchronization validation
// also reports this one, from the shader's writeonly decoration, when it
// is on: the results do not depend on it.)
func TestShuffleCatchesMissingBarrier(t *testing.T) {
	run := func(seed int64) (wrong int) {
		d, err := Open(Options{ShuffleDispatch: seed, MaxDispatchesPerSubmit: 64})
		if errors.Is(err, ErrNoLoader) || errors.Is(err, ErrNoDevice) {
			t.Skipf("no Vulkan device: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		k := loadTestKernels(t, d)
		const n, pairs = 256, 8
		p := d.NewProgram("planted", ProgramOptions{})
		defer p.Close()
		outs := make([]*Buffer, pairs)
		for i := range outs {
			a, c, e := newBuf(t, d, "a", n), newBuf(t, d, "c", n), newBuf(t, d, "e", n)
			for _, b := range []*Buffer{a, c, e} {
				if err := Upload(b, make([]float32, n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := Upload(a, filled(n, float32(i+1))); err != nil {
				t.Fatal(err)
			}
			// The planted bug: copy writes c, declared as a read of c.
			if err := p.Dispatch("c = a", k.copy, groups(n), push(n), In(a), c.Span().Read()); err != nil {
				t.Fatal(err)
			}
			if err := p.Dispatch("e = c", k.copy, groups(n), push(n), In(c), Out(e)); err != nil {
				t.Fatal(err)
			}
			outs[i] = e
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i, e := range outs {
			if got := read(t, e); got[0] != float32(i+1) || got[n-1] != float32(i+1) {
				wrong++
			}
		}
		return wrong
	}
	if w := run(-1); w != 0 {
		t.Fatalf("without shuffling, %d of the copies are wrong: lavapipe no longer runs dispatches in order", w)
	}
	for _, seed := range []int64{1, 2, 3, 7, 42} {
		if w := run(seed); w == 0 {
			t.Errorf("NFVK_SHUFFLE_DISPATCH=%d: the missing barrier went unnoticed", seed)
		} else {
			t.Logf("seed %d: %d of 8 planted hazards gave wrong results", seed, w)
		}
	}
}

func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}
