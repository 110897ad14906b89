package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
)

// TuneTable is what Tune measured on one device: per shape, the
// candidates, their GPU time, and the one chosen (the fastest that passed
// the conformance check against the CPU reference).
type TuneTable struct {
	Device  TuneKey
	Class   string // the Tuning class the candidates vary
	Entries []TuneEntry
}

// TuneKey identifies the device and driver build a table was measured
// on: a table is only used where all of it matches.
type TuneKey struct {
	VendorID, DeviceID, DriverVersion uint32
	PipelineCacheUUID                 string // hex
}

// KeyOf is the tuning key of a device.
func KeyOf(info engine.DeviceInfo) TuneKey {
	return TuneKey{VendorID: info.VendorID, DeviceID: info.DeviceID, DriverVersion: info.DriverVersion,
		PipelineCacheUUID: fmt.Sprintf("%x", info.PipelineCacheUUID)}
}

func (k TuneKey) String() string {
	return fmt.Sprintf("vendor 0x%04x device 0x%04x driver 0x%x cache %s", k.VendorID, k.DeviceID, k.DriverVersion, k.PipelineCacheUUID)
}

// TuneEntry is one tuned shape: exactly one of GEMM, Conv (with Pass)
// and Reduce is set.
type TuneEntry struct {
	GEMM       *GEMMShape   `json:",omitempty"`
	Conv       *Conv2DShape `json:",omitempty"`
	Pass       string       `json:",omitempty"`
	Reduce     *ReduceShape `json:",omitempty"`
	Candidates []TuneCandidate
	// Chosen indexes Candidates; -1 when none was measured and passed
	// (the class's choice stays).
	Chosen int
}

// Name describes the entry's shape.
func (e TuneEntry) Name() string {
	switch {
	case e.GEMM != nil:
		s := *e.GEMM
		return fmt.Sprintf("gemm %dx%dx%d%s", s.M, s.N, s.K, transName(s))
	case e.Conv != nil:
		return ConvUse{*e.Conv, e.Pass}.String()
	case e.Reduce != nil:
		return fmt.Sprintf("reduce [%d,%d]", e.Reduce.Rows, e.Reduce.Cols)
	}
	return "?"
}

// TuneCandidate is one candidate of an entry: exactly one of GEMM, Conv
// and Reduce is set. Micros is its median GPU time; Err says why it was
// not chosen (failed conformance, did not build, budget spent).
type TuneCandidate struct {
	Name   string
	GEMM   *GEMMTile     `json:",omitempty"`
	Conv   *ConvChoice   `json:",omitempty"`
	Reduce *ReduceChoice `json:",omitempty"`
	Micros float64       `json:",omitempty"`
	Err    string        `json:",omitempty"`
}

// gemmCandidates are the GEMM tiles tried: the class's first, then
// smaller tiles (faster to JIT, more workgroups for small shapes).
func (k *Kernels) gemmCandidates() []TuneCandidate {
	def := k.tune.GEMM
	tiles := []GEMMTile{def}
	if def.Kernel == GEMMSubgroup {
		tiles = append(tiles, GEMMTile{Kernel: GEMMSubgroup, WG: def.WG, TM: 2, TN: 4, TK: 2},
			GEMMTile{Kernel: GEMMSubgroup, WG: def.WG, TM: 4, TN: 2, TK: 1})
	} else {
		tiles = append(tiles, GEMMTile{Kernel: GEMMTiled, WG: 16, TM: 4, TN: 4, TK: 16},
			GEMMTile{Kernel: GEMMTiled, WG: 8, TM: 8, TN: 8, TK: 16},
			GEMMTile{Kernel: GEMMTiled, WG: 16, TM: 4, TN: 8, TK: 8})
	}
	var out []TuneCandidate
	for i, t := range tiles {
		name := fmt.Sprintf("%s wg%d %dx%d k%d", map[GEMMKernel]string{GEMMTiled: "tiled", GEMMSubgroup: "sg"}[t.Kernel], t.WG, t.TM, t.TN, t.TK)
		if i == 0 {
			name = "class: " + name
		}
		out = append(out, TuneCandidate{Name: name, GEMM: &t})
	}
	return out
}

// convCandidates are the conv choices tried for a pass: the class's
// tiles first, then half the workgroup, then half the channels per
// invocation; backward-filter also as a split over z slices (the lane
// limit's rows per slice, and 4 slices).
func (k *Kernels) convCandidates(s Conv2DShape, pass convPass) []TuneCandidate {
	ct := convTuningFor(k.tune.Class)
	a, b := ct.Direct, ct.Window
	if pass == convBackwardFilter {
		a, b = ct.Filter, ct.FilterWindow
	}
	half := func(t convTile) convTile { t.WG = max(t.WG/2, 8); return t }
	thin := func(t convTile) convTile {
		t.TO = max(t.TO/2, 1)
		t.TP = min(t.TP*2, convMaxTP)
		return t
	}
	tiles := [][2]convTile{{a, b}, {half(a), half(b)}, {thin(a), thin(b)}}
	split := pass == convBackwardFilter && k.tune.Class != "cpu"
	var out []TuneCandidate
	for i, t := range tiles {
		if i > 0 && t == tiles[0] {
			continue
		}
		c := ConvChoice{Tile: ConvTile(t[0]), Window: ConvTile(t[1]), Split: split}
		name := fmt.Sprintf("wg%d %dx%d, window wg%d %dx%d", t[0].WG, t[0].TO, t[0].TP, t[1].WG, t[1].TO, t[1].TP)
		if i == 0 {
			name = "class: " + name
		}
		if pass == convBackwardFilter {
			name += map[bool]string{false: ", chain", true: ", split"}[split]
		}
		out = append(out, TuneCandidate{Name: name, Conv: &c})
	}
	if pass == convBackwardFilter {
		if split || k.filterChunks(s) > 1 {
			// Where the lane limit splits the reduction, the other way.
			c := ConvChoice{Tile: ConvTile(a), Window: ConvTile(b), Split: !split}
			out = append(out, TuneCandidate{Name: fmt.Sprintf("class tiles, %s", map[bool]string{false: "chain", true: "split"}[c.Split]), Conv: &c})
		}
		if s.N*s.OutH() >= 4 {
			c := ConvChoice{Tile: ConvTile(a), Window: ConvTile(b), Split: true, Slices: 4}
			out = append(out, TuneCandidate{Name: "class tiles, split in 4 slices", Conv: &c})
		}
		if s.N*s.OutH() >= 4 && k.filterChunks(s) < 4 {
			c := ConvChoice{Tile: ConvTile(a), Window: ConvTile(b), Slices: 4}
			out = append(out, TuneCandidate{Name: "class tiles, chain of 4", Conv: &c})
		}
	}
	return out
}

// reduceCandidates are the reduction choices tried: the class's first,
// then other workgroup sizes, and lanes per row where there are rows
// enough.
func (k *Kernels) reduceCandidates(r ReduceShape) []TuneCandidate {
	local, perLane := int(k.tune.ReduceLocal), k.runs()
	out := []TuneCandidate{{Name: fmt.Sprintf("class: local %d%s", local, laneName(perLane)), Reduce: &ReduceChoice{uint32(local), perLane}}}
	for _, l := range []int{32, 64, 256} {
		if l != local && l <= int(k.dev.Info().MaxWorkgroupInvocs) {
			out = append(out, TuneCandidate{Name: fmt.Sprintf("local %d%s", l, laneName(perLane)), Reduce: &ReduceChoice{uint32(l), perLane}})
		}
	}
	if r.Rows >= 64 && r.Cols <= maxLoopIterations {
		out = append(out, TuneCandidate{Name: fmt.Sprintf("local %d%s", local, laneName(!perLane)), Reduce: &ReduceChoice{uint32(local), !perLane}})
	}
	return out
}

func laneName(perLane bool) string {
	if perLane {
		return ", a lane per row"
	}
	return ", a workgroup per row"
}

// measured reports whether any candidate of e was measured or rejected
// (not all skipped for the budget).
func (e TuneEntry) measured() bool {
	for _, c := range e.Candidates {
		if c.Err != budgetSpent {
			return true
		}
	}
	return false
}

const budgetSpent = "not measured: budget spent"

// filterChunks is how many chunks the lane limit cuts s's backward-filter
// reduction into.
func (k *Kernels) filterChunks(s Conv2DShape) int {
	chunks, err := convChunks(s.N*s.OutH(), s.OutW()+1, k.laneLimit())
	if err != nil {
		return 0
	}
	return len(chunks)
}
