package kernels

import (
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/engine"
)

// Per-device tuning: the Tuning table picks tiles per device class; a
// TuneTable (Tune, tune_measure.go) holds choices measured on one device
// for the shapes of one model, and WithTable makes kernels that use
// them. Shapes without an entry keep the class's choice.

// Shapes are the shapes a step records that the tuner can tune: GEMMs,
// convolutions by pass, row reductions.
type Shapes struct {
	GEMM   []GEMMShape
	Conv   []ConvUse
	Reduce []ReduceShape
}

// ConvUse is a convolution shape and the pass that runs it.
type ConvUse struct {
	Shape Conv2DShape
	Pass  string // "forward", "backward-data" or "backward-filter"
}

// ReduceShape is a row reduction: Rows rows of Cols elements.
type ReduceShape struct{ Rows, Cols int }

var convPassKey = [...]string{"forward", "backward-data", "backward-filter", "backward-bias"}

func passOf(name string) (convPass, bool) {
	i := slices.Index(convPassKey[:], name)
	return convPass(i), i >= 0 && i < int(convBackwardBias)
}

// ConvTile is a conv shader tile: WG invocations of TO output channels at
// TP positions each (see convTuning).
type ConvTile struct{ WG, TO, TP uint32 }

// ConvChoice is a measured conv choice: the tile of the pass (Tile for
// strided rows, Window for row windows; for backward-filter, Filter and
// FilterWindow), and for backward-filter whether its reduction splits
// into z slices over scratch (Split), and into how many slices or chained
// dispatches at least (Slices; 0: as the lane limit needs).
type ConvChoice struct {
	Tile, Window ConvTile
	Split        bool `json:",omitempty"`
	Slices       int  `json:",omitempty"`
}

// ReduceChoice is a measured reduction choice: the workgroup size and
// whether each lane reduces a whole row (else a workgroup per row).
type ReduceChoice struct {
	Local   uint32
	PerLane bool `json:",omitempty"`
}

type convKey struct {
	s    Conv2DShape
	pass convPass
}

// tunedMaps are a TuneTable's choices by shape.
type tunedMaps struct {
	gemm   map[GEMMShape]GEMMTile
	conv   map[convKey]ConvChoice
	reduce map[ReduceShape]ReduceChoice
	// all, when set, applies to every shape without an entry (tests run
	// the conformance tables with one candidate so).
	all *allChoice
}

// allChoice is one candidate of each kind, for every shape.
type allChoice struct {
	gemm           *GEMMTile
	direct, filter *ConvChoice
	reduce         *ReduceChoice
}

// WithTable returns kernels for the same device that use t's chosen
// candidates where t has an entry for a shape, the class tuning elsewhere.
// A nil t gives kernels without a table.
func (k *Kernels) WithTable(t *TuneTable) *Kernels {
	nk := &Kernels{dev: k.dev, tune: k.tune, shaders: map[string]*engine.Shader{}}
	if t == nil {
		return nk
	}
	m := &tunedMaps{gemm: map[GEMMShape]GEMMTile{}, conv: map[convKey]ConvChoice{}, reduce: map[ReduceShape]ReduceChoice{}}
	for _, e := range t.Entries {
		if e.Chosen < 0 || e.Chosen >= len(e.Candidates) {
			continue
		}
		c := e.Candidates[e.Chosen]
		switch {
		case e.GEMM != nil && c.GEMM != nil:
			m.gemm[*e.GEMM] = *c.GEMM
		case e.Conv != nil && c.Conv != nil:
			if pass, ok := passOf(e.Pass); ok {
				m.conv[convKey{*e.Conv, pass}] = *c.Conv
			}
		case e.Reduce != nil && c.Reduce != nil:
			m.reduce[*e.Reduce] = *c.Reduce
		}
	}
	nk.tuned = m
	return nk
}

// withChoice returns kernels that use one candidate for one shape (the
// tuner measures them so).
func (k *Kernels) withChoice(e *TuneEntry, c TuneCandidate) *Kernels {
	return k.WithTable(&TuneTable{Entries: []TuneEntry{{GEMM: e.GEMM, Conv: e.Conv, Pass: e.Pass, Reduce: e.Reduce,
		Candidates: []TuneCandidate{c}}}})
}

func (k *Kernels) gemmTile(s GEMMShape) GEMMTile {
	if k.tuned != nil {
		if t, ok := k.tuned.gemm[s]; ok {
			return t
		}
		if a := k.tuned.all; a != nil && a.gemm != nil {
			return *a.gemm
		}
	}
	return k.tune.GEMM
}

// convTuning is the class's conv tiles with the tuned tiles of (s, pass).
func (k *Kernels) convTuning(s Conv2DShape, pass convPass) convTuning {
	ct := convTuningFor(k.tune.Class)
	if k.tuned == nil {
		return ct
	}
	c, ok := k.tuned.conv[convKey{s, pass}]
	if a := k.tuned.all; !ok && a != nil {
		switch {
		case pass == convBackwardFilter && a.filter != nil:
			c, ok = *a.filter, true
		case (pass == convForward || pass == convBackwardData) && a.direct != nil:
			c, ok = *a.direct, true
		}
	}
	if !ok {
		return ct
	}
	switch pass {
	case convForward, convBackwardData:
		ct.Direct, ct.Window = convTile(c.Tile), convTile(c.Window)
		ct.MaxTP = max(ct.MaxTP, c.Tile.TP, c.Window.TP)
	case convBackwardFilter:
		ct.Filter, ct.FilterWindow = convTile(c.Tile), convTile(c.Window)
	}
	return ct
}

func (k *Kernels) tunedFilter(s Conv2DShape) (ConvChoice, bool) {
	if k.tuned == nil {
		return ConvChoice{}, false
	}
	c, ok := k.tuned.conv[convKey{s, convBackwardFilter}]
	if a := k.tuned.all; !ok && a != nil && a.filter != nil {
		return *a.filter, true
	}
	return c, ok
}

// filterLimit is the loop iterations one backward-filter invocation may
// run for s: the lane limit, or fewer where a tuned choice takes fewer
// rows per slice.
func (k *Kernels) filterLimit(s Conv2DShape) int {
	limit := k.laneLimit()
	if c, ok := k.tunedFilter(s); ok && c.Slices > 0 {
		per := ceilDiv(s.N*s.OutH(), c.Slices)*(s.OutW()+1) + convLoopMargin
		if limit == 0 || per < limit {
			return per
		}
	}
	return limit
}

// reduceChoice is the workgroup size and lane-per-row choice of a row
// reduction (reducePipeline).
func (k *Kernels) reduceChoice(rows, cols int) (int, bool) {
	if k.tuned != nil {
		if c, ok := k.tuned.reduce[ReduceShape{rows, cols}]; ok {
			return int(c.Local), c.PerLane
		}
		if a := k.tuned.all; a != nil && a.reduce != nil {
			return int(a.reduce.Local), a.reduce.PerLane
		}
	}
	return int(k.tune.ReduceLocal), k.runs()
}

// ShapeLog returns kernels that plan like k and log every tunable shape
// they record: a work planner (nothing is recorded).
func (k *Kernels) ShapeLog() *Kernels {
	pl := k.WorkPlanner(k.tune)
	pl.tuned = k.tuned
	pl.shapes = &Shapes{}
	return pl
}

// Shapes returns the shapes a ShapeLog's kernels saw, each once, in the
// order first seen.
func (k *Kernels) Shapes() Shapes {
	if k.shapes == nil {
		return Shapes{}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s := *k.shapes
	return Shapes{GEMM: slices.Clone(s.GEMM), Conv: slices.Clone(s.Conv), Reduce: slices.Clone(s.Reduce)}
}

func (k *Kernels) noteGEMM(s GEMMShape) {
	if k.shapes != nil {
		k.mu.Lock()
		if !slices.Contains(k.shapes.GEMM, s) {
			k.shapes.GEMM = append(k.shapes.GEMM, s)
		}
		k.mu.Unlock()
	}
}

func (k *Kernels) noteConv(s Conv2DShape, pass convPass) {
	if k.shapes != nil {
		u := ConvUse{s, convPassKey[pass]}
		k.mu.Lock()
		if !slices.Contains(k.shapes.Conv, u) {
			k.shapes.Conv = append(k.shapes.Conv, u)
		}
		k.mu.Unlock()
	}
}

func (k *Kernels) noteReduce(rows, cols int) {
	if k.shapes != nil {
		r := ReduceShape{rows, cols}
		k.mu.Lock()
		if !slices.Contains(k.shapes.Reduce, r) {
			k.shapes.Reduce = append(k.shapes.Reduce, r)
		}
		k.mu.Unlock()
	}
}

func (u ConvUse) String() string { return fmt.Sprintf("conv %s %s", u.Pass, convShapeName(u.Shape)) }

func convShapeName(s Conv2DShape) string {
	return fmt.Sprintf("n%d c%d %dx%d -> o%d k%dx%d s%d g%d", s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.StrideH, s.Groups)
}
