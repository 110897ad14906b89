package kernels

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// TuneOptions bound a Tune run.
type TuneOptions struct {
	// Budget bounds the whole run (default 5 s), shared equally by the
	// shapes left; candidates not reached in a shape's share are not
	// measured (the entry says so), a shape with none measured keeps the
	// class's choice.
	Budget time.Duration
	// Reps is the timed runs per candidate, after one warm-up (default 3).
	Reps int
	// Progress, when set, is called before each entry.
	Progress func(TuneProgress)
}

// TuneProgress reports which entry Tune is measuring.
type TuneProgress struct {
	Done, Total int
	Entry       string
}

// Tune measures the candidates of every shape in shapes on the device
// (GPU timestamps where the queue has them, wall time otherwise) and
// chooses, per shape, the fastest that passes the conformance check
// against the CPU reference on that shape. It stops measuring when ctx
// ends (returning its error) or the budget is spent (the table then has
// the entries measured so far).
func (k *Kernels) Tune(ctx context.Context, shapes Shapes, o TuneOptions) (*TuneTable, error) {
	if k.Planning() {
		return nil, fmt.Errorf("kernels: tune: a work planner cannot run kernels")
	}
	if o.Budget <= 0 {
		o.Budget = 5 * time.Second
	}
	if o.Reps <= 0 {
		o.Reps = 3
	}
	deadline := time.Now().Add(o.Budget)
	t := &TuneTable{Device: KeyOf(k.dev.Info()), Class: k.tune.Class}
	for _, s := range shapes.GEMM {
		t.Entries = append(t.Entries, TuneEntry{GEMM: &s, Candidates: k.gemmCandidates()})
	}
	for _, u := range shapes.Conv {
		pass, ok := passOf(u.Pass)
		if !ok {
			return nil, fmt.Errorf("kernels: tune: conv pass %q (want forward, backward-data or backward-filter)", u.Pass)
		}
		t.Entries = append(t.Entries, TuneEntry{Conv: &u.Shape, Pass: u.Pass, Candidates: k.convCandidates(u.Shape, pass)})
	}
	for _, r := range shapes.Reduce {
		t.Entries = append(t.Entries, TuneEntry{Reduce: &r, Candidates: k.reduceCandidates(r)})
	}
	for i := range t.Entries {
		e := &t.Entries[i]
		e.Chosen = -1
		if o.Progress != nil {
			o.Progress(TuneProgress{Done: i, Total: len(t.Entries), Entry: e.Name()})
		}
		// Each entry gets an equal share of what is left; one candidate
		// started within its share may overrun it.
		share := time.Now().Add(time.Until(deadline) / time.Duration(len(t.Entries)-i))
		if err := k.tuneEntry(ctx, e, share, o.Reps); err != nil {
			return nil, fmt.Errorf("kernels: tune %s: %w", e.Name(), err)
		}
	}
	if o.Progress != nil {
		o.Progress(TuneProgress{Done: len(t.Entries), Total: len(t.Entries)})
	}
	return t, nil
}

// tuneCase is one entry's inputs on the device and its reference.
type tuneCase struct {
	ins     []*engine.Buffer
	out     *engine.Buffer
	outLen  int
	want    []float64
	absSum  []float64
	terms   int
	record  func(k *Kernels, p *engine.Program, scratch engine.Span) error
	scratch func(k *Kernels) int
}

// tuneEntry measures e's candidates in order until the deadline.
func (k *Kernels) tuneEntry(ctx context.Context, e *TuneEntry, deadline time.Time, reps int) error {
	if time.Now().After(deadline) {
		// Not even the inputs and the reference: the share is spent.
		for i := range e.Candidates {
			e.Candidates[i].Err = budgetSpent
		}
		return ctx.Err()
	}
	c, err := k.newTuneCase(e)
	if err != nil {
		return err
	}
	defer c.free()
	best := math.Inf(1)
	for i := range e.Candidates {
		cand := &e.Candidates[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			cand.Err = budgetSpent
			continue
		}
		us, err := k.measure(ctx, k.withChoice(e, *cand), c, reps)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cand.Err = err.Error()
			continue
		}
		cand.Micros = us
		if us < best {
			best, e.Chosen = us, i
		}
	}
	return nil
}

// measure records c with kc, runs it once to warm up and check it, then
// reps times, and returns the median time in µs.
func (k *Kernels) measure(ctx context.Context, kc *Kernels, c *tuneCase, reps int) (float64, error) {
	var scratch engine.Span
	if n := c.scratch(kc); n > 0 {
		b, err := k.dev.NewBuffer("tune scratch", int64(4*n))
		if err != nil {
			return 0, err
		}
		defer b.Free()
		scratch = b.Span()
	}
	p := k.dev.NewProgram("tune", engine.ProgramOptions{Profile: true})
	defer p.Close()
	if err := c.record(kc, p, scratch); err != nil {
		return 0, fmt.Errorf("record: %w", err)
	}
	if err := p.Run(ctx); err != nil {
		return 0, err
	}
	got := make([]float32, c.outLen)
	if err := engine.Download(c.out, got); err != nil {
		return 0, err
	}
	if err := tuneBound(got, c.want, c.absSum, c.terms); err != nil {
		return 0, fmt.Errorf("conformance: %w", err)
	}
	times := make([]float64, reps)
	for i := range times {
		t0 := time.Now()
		if err := p.Run(ctx); err != nil {
			return 0, err
		}
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
		if _, total, err := p.Timings(); err == nil {
			times[i] = float64(total.Nanoseconds()) / 1e3
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// tuneBound is the conformance tests' bound: each element within
// gamma(terms) times the sum of the absolute terms, plus one rounding of
// the float64 reference, of it.
func tuneBound(got []float32, want, absSum []float64, terms int) error {
	nu := float64(terms) * 0x1p-24
	g := nu / (1 - nu)
	for i := range want {
		tol := g*absSum[i] + 0x1p-24*math.Abs(want[i])
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			return fmt.Errorf("element %d is %v, the reference %v (bound %g over %d terms)", i, got[i], want[i], tol, terms)
		}
	}
	return nil
}

func (c *tuneCase) free() {
	for _, b := range append(c.ins, c.out) {
		b.Free()
	}
}

// tuneData is n deterministic values in [-1, 1].
func tuneData(n, seed int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(float64(i*7919+seed*104729) * 0.001)
	}
	return v
}

func abs64(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Abs(x)
	}
	return out
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// newTuneCase uploads e's inputs (float32-exact values) and computes the
// reference and the bound's absolute sums in float64.
func (k *Kernels) newTuneCase(e *TuneEntry) (_ *tuneCase, err error) {
	c := &tuneCase{scratch: func(*Kernels) int { return 0 }}
	defer func() {
		if err != nil {
			c.free()
		}
	}()
	in := func(name string, n, seed int) ([]float64, error) {
		v64 := f64(f32(tuneData(n, seed)))
		b, err := k.dev.NewBuffer("tune "+name, int64(4*n))
		if err == nil {
			c.ins = append(c.ins, b)
			err = engine.Upload(b, f32(v64))
		}
		return v64, err
	}
	span := func(i int) engine.Span { return c.ins[i].Span() }
	switch {
	case e.GEMM != nil:
		s := *e.GEMM
		a, err := in("a", s.ALen(), 1)
		if err != nil {
			return nil, err
		}
		b, err := in("b", s.BLen(), 2)
		if err != nil {
			return nil, err
		}
		c.outLen, c.terms = s.CLen(), s.K
		c.want, c.absSum = make([]float64, c.outLen), make([]float64, c.outLen)
		ref.GEMM(s, 1, a, b, 0, c.want)
		ref.GEMM(s, 1, abs64(a), abs64(b), 0, c.absSum)
		c.record = func(kc *Kernels, p *engine.Program, _ engine.Span) error {
			return kc.GEMM(p, s, 1, span(0), span(1), 0, c.out.Span())
		}
	case e.Conv != nil:
		if err := k.convTuneCase(c, e, in, span); err != nil {
			return nil, err
		}
	case e.Reduce != nil:
		r := *e.Reduce
		x, err := in("x", r.Rows*r.Cols, 1)
		if err != nil {
			return nil, err
		}
		c.outLen, c.terms = r.Rows, r.Cols
		c.want, c.absSum = make([]float64, r.Rows), make([]float64, r.Rows)
		for i := range r.Rows {
			row := x[i*r.Cols : (i+1)*r.Cols]
			c.want[i], c.absSum[i] = ref.Sum(row), ref.Sum(abs64(row))
		}
		c.record = func(kc *Kernels, p *engine.Program, _ engine.Span) error {
			return kc.ReduceRows(p, ReduceSum, span(0), r.Rows, r.Cols, c.out.Span())
		}
	default:
		return nil, fmt.Errorf("an entry without a shape")
	}
	c.out, err = k.dev.NewBuffer("tune out", int64(4*c.outLen))
	return c, err
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// convTuneCase fills c for a conv entry.
func (k *Kernels) convTuneCase(c *tuneCase, e *TuneEntry, in func(string, int, int) ([]float64, error), span func(int) engine.Span) error {
	s := *e.Conv
	pass, _ := passOf(e.Pass)
	if err := s.Validate(); err != nil {
		return err
	}
	cg, og := s.C/s.Groups, s.O/s.Groups
	var a, b []float64
	var err error
	switch pass {
	case convForward:
		if a, err = in("x", s.XLen(), 1); err == nil {
			b, err = in("w", s.WLen(), 2)
		}
		c.outLen, c.terms = s.YLen(), cg*s.KH*s.KW
	case convBackwardData:
		if a, err = in("dy", s.YLen(), 1); err == nil {
			b, err = in("w", s.WLen(), 2)
		}
		c.outLen, c.terms = s.XLen(), og*s.KH*s.KW
	default:
		if a, err = in("x", s.XLen(), 1); err == nil {
			b, err = in("dy", s.YLen(), 2)
		}
		c.outLen, c.terms = s.WLen(), s.N*s.OutH()*s.OutW()
	}
	if err != nil {
		return err
	}
	c.want, c.absSum = make([]float64, c.outLen), make([]float64, c.outLen)
	switch pass {
	case convForward:
		ref.Conv2D(s, a, b, nil, c.want)
		ref.Conv2D(s, abs64(a), abs64(b), nil, c.absSum)
		c.record = func(kc *Kernels, p *engine.Program, _ engine.Span) error {
			return kc.Conv2D(p, s, span(0), span(1), engine.Span{}, c.out.Span())
		}
	case convBackwardData:
		ref.Conv2DBackwardData(s, a, b, c.want)
		ref.Conv2DBackwardData(s, abs64(a), abs64(b), c.absSum)
		c.record = func(kc *Kernels, p *engine.Program, _ engine.Span) error {
			return kc.Conv2DBackwardData(p, s, span(0), span(1), c.out.Span())
		}
	default:
		ref.Conv2DBackwardFilter(s, a, b, c.want)
		ref.Conv2DBackwardFilter(s, abs64(a), abs64(b), c.absSum)
		c.scratch = func(kc *Kernels) int { return kc.Conv2DBackwardFilterScratch(s) }
		c.record = func(kc *Kernels, p *engine.Program, scratch engine.Span) error {
			return kc.Conv2DBackwardFilterSplit(p, s, span(0), span(1), c.out.Span(), scratch)
		}
	}
	return nil
}
