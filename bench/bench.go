package bench

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// Metric is one figure of a case, in the unit `go test -bench` reports it
// under (bench/report parses those names: keep them stable).
type Metric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Result is what one run of a case measured, its figures in report order.
type Result struct {
	Metrics []Metric
}

func (r *Result) add(v float64, unit string) { r.Metrics = append(r.Metrics, Metric{v, unit}) }

// Case is one benchmark: the Go benchmarks (go test -bench) and
// `nfvk bench` run the same Run, so their figures agree.
type Case struct {
	// Name is the Go benchmark's name without "Benchmark", e.g.
	// "SGEMM/1024x1024x1024".
	Name string
	// Small marks the cases `nfvk bench --quick` runs: seconds on a CPU
	// device, the first pass included.
	Small bool
	// Heavy marks the GPU-sized cases (dm_nfnet_f0's step at its training
	// resolution): minutes per step on a CPU device, so neither make bench
	// nor a plain nfvk bench runs them; nfvk bench --heavy does.
	Heavy bool
	Run   func(ctx context.Context, env *Env) (Result, error)
}

// ErrSkip marks a case that cannot run here (a file it needs is missing);
// Run wraps it with the reason.
var ErrSkip = errors.New("skipped")

// Names of the two references every figure is compared with.
const (
	PeakName = "PeakFMA"    // GFLOP/s: register-only FMAs, the compute ceiling
	CopyName = "Copy/64MiB" // GB/s: a large copy; a reference, not a ceiling
)

// Env is what a case runs on.
type Env struct {
	Dev *engine.Device
	Lib *kernels.Kernels
	// Reps is the number of timed runs whose median a figure is (after
	// warm-up); at least 1.
	Reps int
	// Log, when set, receives a case's details (a training step's
	// breakdown by dispatch kind).
	Log func(string)
}

// Cases returns every case, in the order `make bench` runs them.
func Cases() []Case {
	var cs []Case
	for _, f := range [][]Case{convCases(), elementwiseCases(), engineCases(), gemmCases(),
		graphCases(), fusionCases(), loweringCases(), wsCases(), layerCases(), optimCases(), trainCases()} {
		cs = append(cs, f...)
	}
	return cs
}

// Select returns the cases whose name matches filter (all when empty),
// only the small ones when quick, the heavy ones only when heavy.
func Select(filter string, quick, heavy bool) ([]Case, error) {
	re, err := regexp.Compile(filter)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	var out []Case
	for _, c := range Cases() {
		if re.MatchString(c.Name) && (!quick || c.Small) && (heavy || !c.Heavy) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Family returns the cases of one Go benchmark: those named family or
// family/..., as the Go benchmark of that name runs them (heavy cases
// aside: nfvk bench --heavy runs those).
func Family(family string) []Case {
	var out []Case
	for _, c := range Cases() {
		if !c.Heavy && (c.Name == family || strings.HasPrefix(c.Name, family+"/")) {
			out = append(out, c)
		}
	}
	return out
}

// scope holds a case's device objects and its first error, so a case
// reads as a list of steps and frees everything when it ends.
type scope struct {
	env     *Env
	closers []func()
	err     error
}

func newScope(env *Env) *scope { return &scope{env: env} }

func (s *scope) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func (s *scope) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// buffer allocates n float32s filled with a fixed pattern (zeros would
// let a driver skip work).
func (s *scope) buffer(name string, n int) engine.Span {
	if s.err != nil {
		return engine.Span{}
	}
	buf, err := s.env.Dev.NewBuffer(name, int64(4*n))
	if err != nil {
		s.fail(fmt.Errorf("buffer %s: %w", name, err))
		return engine.Span{}
	}
	s.closers = append(s.closers, buf.Free)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%13) * 0.25
	}
	if err := engine.Upload(buf, v); err != nil {
		s.fail(fmt.Errorf("upload %s: %w", name, err))
	}
	return buf.Span()
}

// program builds a program with build and records it.
func (s *scope) program(name string, opts engine.ProgramOptions, build func(p *engine.Program) error) *engine.Program {
	if s.err != nil {
		return nil
	}
	p := s.env.Dev.NewProgram(name, opts)
	s.closers = append(s.closers, p.Close)
	if err := build(p); err != nil {
		s.fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	if err := p.Record(); err != nil {
		s.fail(fmt.Errorf("record %s: %w", name, err))
		return nil
	}
	return p
}

// profiled is program with GPU timestamps.
func (s *scope) profiled(name string, build func(p *engine.Program) error) *engine.Program {
	return s.program(name, engine.ProgramOptions{Profile: true}, build)
}

// gpuTime runs p twice to warm up, then Reps times, and returns the
// median GPU time of one run, from timestamps.
func (s *scope) gpuTime(ctx context.Context, p *engine.Program) (time.Duration, error) {
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < 2; i++ {
		if err := p.Run(ctx); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	ts := make([]time.Duration, 0, max(s.env.Reps, 1))
	for i := 0; i < max(s.env.Reps, 1); i++ {
		if err := p.Run(ctx); err != nil {
			return 0, err
		}
		_, total, err := p.Timings()
		if err != nil {
			return 0, fmt.Errorf("timestamps: %w", err)
		}
		ts = append(ts, total)
	}
	return median(ts), nil
}

func median(ts []time.Duration) time.Duration {
	ts = slices.Clone(ts)
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// gflops is a compute figure: GFLOP/s and the GPU time.
func gflops(flops float64, t time.Duration, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	var r Result
	r.add(flops/t.Seconds()/1e9, "GFLOP/s")
	r.add(float64(t.Microseconds()), "gpu_us")
	return r, nil
}

// gbs is a bandwidth figure: GB/s of bytes read + written, and the GPU time.
func gbs(bytes float64, t time.Duration, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	var r Result
	r.add(bytes/t.Seconds()/1e9, "GB/s")
	r.add(float64(t.Microseconds()), "gpu_us")
	return r, nil
}

// gpuUS is a fixed-work figure: the GPU time alone.
func gpuUS(t time.Duration, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	var r Result
	r.add(float64(t.Microseconds()), "gpu_us")
	return r, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
