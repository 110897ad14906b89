package engine

import (
	"math/rand/v2"
	"testing"
)

func TestFreeListAlignsAndCoalesces(t *testing.T) {
	f := newFreeList(1024)
	a, ok := f.alloc(100, 64)
	if !ok || a != 0 {
		t.Fatalf("first alloc = %d, %v; want 0, true", a, ok)
	}
	b, ok := f.alloc(10, 64)
	if !ok || b != 128 {
		t.Fatalf("second alloc = %d, %v; want 128 (aligned), true", b, ok)
	}
	if _, ok := f.alloc(2000, 64); ok {
		t.Fatal("alloc larger than the block succeeded")
	}
	f.release(a, 100)
	f.release(b, 10)
	if !f.empty() || len(f.free) != 1 {
		t.Fatalf("after releasing everything: free list %v, want one span of 1024", f.free)
	}
}

// TestFreeListRandom checks the invariants under random alloc/free: no
// two live allocations overlap, all are aligned and inside the block, and
// free + live bytes account for the whole block.
func TestFreeListRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const size = 1 << 20
	f := newFreeList(size)
	type alloc struct{ off, size int64 }
	var live []alloc
	for step := 0; step < 20000; step++ {
		if len(live) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(live))
			f.release(live[i].off, live[i].size)
			live = append(live[:i], live[i+1:]...)
		} else {
			n := int64(1 + rng.IntN(20000))
			align := int64(1) << rng.IntN(9)
			off, ok := f.alloc(n, align)
			if !ok {
				continue
			}
			if off%align != 0 || off < 0 || off+n > size {
				t.Fatalf("alloc(%d, %d) = %d: misaligned or out of block", n, align, off)
			}
			for _, l := range live {
				if off < l.off+l.size && l.off < off+n {
					t.Fatalf("alloc [%d,%d) overlaps live [%d,%d)", off, off+n, l.off, l.off+l.size)
				}
			}
			live = append(live, alloc{off, n})
		}
		var used int64
		for _, l := range live {
			used += l.size
		}
		if used+f.freeBytes() != size {
			t.Fatalf("step %d: live %d + free %d != block %d", step, used, f.freeBytes(), size)
		}
		for i := 1; i < len(f.free); i++ {
			if f.free[i-1].off+f.free[i-1].size >= f.free[i].off {
				t.Fatalf("free list not sorted/coalesced: %v", f.free[i-1:i+1])
			}
		}
	}
}
