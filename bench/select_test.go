package bench

import (
	"slices"
	"testing"
)

// TestSelectHeavy: the GPU-sized cases run only when asked for, whatever
// the filter, and never through the Go benchmarks' families.
func TestSelectHeavy(t *testing.T) {
	names := func(cs []Case) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	const heavy = "TrainStep/f0-192px-b32"
	for _, tc := range []struct {
		filter       string
		quick, heavy bool
		want         bool
	}{
		{"", false, false, false},
		{"f0-192px", false, false, false},
		{"f0-192px", false, true, true},
		{"", false, true, true},
		{"", true, true, false}, // --quick keeps the small cases only
	} {
		cs, err := Select(tc.filter, tc.quick, tc.heavy)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(names(cs), heavy); got != tc.want {
			t.Errorf("Select(%q, quick=%v, heavy=%v) has %s: %v, want %v", tc.filter, tc.quick, tc.heavy, heavy, got, tc.want)
		}
	}
	if slices.Contains(names(Family("TrainStep")), heavy) {
		t.Errorf("Family(TrainStep) includes %s: make bench would run it", heavy)
	}
	if !slices.Contains(names(Family("TrainStep")), "TrainStep/f0-64px-b8") {
		t.Errorf("Family(TrainStep) lost TrainStep/f0-64px-b8")
	}
}
