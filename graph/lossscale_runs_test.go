package graph

import (
	"slices"
	"testing"
)

// TestAdjacentRuns: spans one after another in a buffer, with at most
// alignment padding between them, merge (in any order); a gap that could
// hold another tensor, another buffer or an overlap keeps them apart.
func TestAdjacentRuns(t *testing.T) {
	m := func(buf int, off, size int64) Mem { return Mem{Buf: buf, Off: off, Size: size} }
	for _, c := range []struct {
		name string
		in   []Mem
		want []Mem
	}{
		{"one", []Mem{m(0, 0, 12)}, []Mem{m(0, 0, 12)}},
		{"padding", []Mem{m(0, 0, 12), m(0, 16, 4), m(0, 32, 64)}, []Mem{m(0, 0, 96)}},
		{"unsorted", []Mem{m(0, 32, 64), m(0, 0, 12), m(0, 16, 4)}, []Mem{m(0, 0, 96)}},
		{"room for a tensor", []Mem{m(0, 0, 12), m(0, 32, 4)}, []Mem{m(0, 0, 12), m(0, 32, 4)}},
		{"two buffers", []Mem{m(1, 0, 16), m(0, 0, 16), m(1, 16, 8)}, []Mem{m(0, 0, 16), m(1, 0, 24)}},
		{"same tensor twice", []Mem{m(0, 0, 16), m(0, 0, 16)}, []Mem{m(0, 0, 16), m(0, 0, 16)}},
	} {
		if got := adjacentRuns(c.in, 16); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
