package engine

import "sort"

// freeList hands out aligned ranges of one memory block: first fit over
// free ranges kept sorted by offset, coalesced on release. Pure Go so its
// invariants are tested without a device.
type freeList struct {
	size int64
	free []span // sorted by off, non-overlapping, non-adjacent
}

type span struct{ off, size int64 }

func newFreeList(size int64) *freeList {
	return &freeList{size: size, free: []span{{0, size}}}
}

// alloc returns the offset of size bytes aligned to align (a power of
// two), or ok=false when no free range fits.
func (f *freeList) alloc(size, align int64) (off int64, ok bool) {
	for i, s := range f.free {
		start := (s.off + align - 1) &^ (align - 1)
		if start+size > s.off+s.size {
			continue
		}
		// Split s into [s.off,start) and [start+size, end).
		end := s.off + s.size
		var repl []span
		if start > s.off {
			repl = append(repl, span{s.off, start - s.off})
		}
		if start+size < end {
			repl = append(repl, span{start + size, end - start - size})
		}
		f.free = append(f.free[:i], append(repl, f.free[i+1:]...)...)
		return start, true
	}
	return 0, false
}

// release returns [off, off+size) to the list, merging neighbours.
func (f *freeList) release(off, size int64) {
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].off > off })
	f.free = append(f.free, span{})
	copy(f.free[i+1:], f.free[i:])
	f.free[i] = span{off, size}
	// Merge with the next, then with the previous.
	if i+1 < len(f.free) && f.free[i].off+f.free[i].size == f.free[i+1].off {
		f.free[i].size += f.free[i+1].size
		f.free = append(f.free[:i+1], f.free[i+2:]...)
	}
	if i > 0 && f.free[i-1].off+f.free[i-1].size == f.free[i].off {
		f.free[i-1].size += f.free[i].size
		f.free = append(f.free[:i], f.free[i+1:]...)
	}
}

// freeBytes is the total free size.
func (f *freeList) freeBytes() int64 {
	var n int64
	for _, s := range f.free {
		n += s.size
	}
	return n
}

// empty reports whether nothing is allocated.
func (f *freeList) empty() bool { return len(f.free) == 1 && f.free[0].size == f.size }
