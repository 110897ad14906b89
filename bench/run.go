package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/atomicfile"
)

// Report is what `nfvk bench --json` writes: where the figures were
// measured and each case's figures, so that runs on other devices,
// drivers or nfvk versions can be compared (Compare).
type Report struct {
	Nfvk   Build      `json:"nfvk"`
	Device DeviceInfo `json:"device"`
	Host   Host       `json:"host"`
	Date   time.Time  `json:"date"`
	Quick  bool       `json:"quick"`
	// Reps is the number of timed runs each figure is the median of.
	Reps  int          `json:"reps"`
	WallS float64      `json:"wall_s"`
	Cases []CaseResult `json:"cases"`
}

// Build identifies the nfvk binary: its module version and the VCS
// revision it was built from (debug.ReadBuildInfo).
type Build struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
}

func (b Build) String() string {
	s := "nfvk " + b.Version
	if b.Revision != "" {
		s += " " + b.Revision
	} else {
		s += " (no VCS revision: built outside a checkout or with -buildvcs=false)"
	}
	if b.Modified {
		s += " (modified)"
	}
	return s
}

// DeviceInfo is the device and driver the figures were measured on.
type DeviceInfo struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Vendor string `json:"vendor"`
	Driver string `json:"driver"`
	Vulkan string `json:"vulkan"`
}

// Host is the machine that drove the device.
type Host struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
	CPUs int    `json:"cpus"`
}

// CaseResult is one case's figures, or why it has none.
type CaseResult struct {
	Name    string   `json:"name"`
	Figures []Figure `json:"figures,omitempty"`
	// Reference marks a reference measured for the fractions although the
	// filter did not select it.
	Reference bool   `json:"reference,omitempty"`
	Skipped   string `json:"skipped,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Figure is a Metric with, for GFLOP/s and GB/s, its fraction of the
// reference measured in the same run (PeakFMA, Copy/64MiB).
type Figure struct {
	Metric
	Fraction float64 `json:"fraction,omitempty"`
	Of       string  `json:"of,omitempty"`
}

// Describe fills in a report's device and host.
func Describe(in engine.DeviceInfo) DeviceInfo {
	return DeviceInfo{Name: in.Name, Type: fmt.Sprint(in.Type), Vendor: in.Vendor, Driver: in.Driver, Vulkan: in.APIVersionString()}
}

// ThisHost is the machine running this process.
func ThisHost() Host { return Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()} }

// RunCases runs cs on env, the references first (added when cs lacks
// them, since every fraction needs them), calling progress before each
// case. A case's error is recorded and the run goes on; only a cancelled
// ctx stops it.
func RunCases(ctx context.Context, env *Env, cs []Case, progress func(i, n int, name string)) ([]CaseResult, error) {
	var todo []Case
	refs := map[string]bool{}
	for _, name := range []string{PeakName, CopyName} {
		if !slices.ContainsFunc(cs, func(c Case) bool { return c.Name == name }) {
			c := Family(name)
			todo = append(todo, c...)
			refs[name] = true
		}
	}
	todo = append(todo, cs...)
	out := make([]CaseResult, 0, len(todo))
	for i, c := range todo {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if progress != nil {
			progress(i, len(todo), c.Name)
		}
		r, err := c.Run(ctx, env)
		cr := CaseResult{Name: c.Name, Reference: refs[c.Name]}
		switch {
		case errors.Is(err, ErrSkip):
			cr.Skipped = err.Error()
		case err != nil:
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			cr.Error = err.Error()
		}
		for _, m := range r.Metrics {
			cr.Figures = append(cr.Figures, Figure{Metric: m})
		}
		out = append(out, cr)
	}
	addFractions(out)
	return out, nil
}

// addFractions sets each GFLOP/s figure's fraction of PeakFMA and each
// GB/s figure's of Copy/64MiB.
func addFractions(rs []CaseResult) {
	ref := func(name, unit string) float64 {
		for _, r := range rs {
			if r.Name == name {
				for _, f := range r.Figures {
					if f.Unit == unit {
						return f.Value
					}
				}
			}
		}
		return 0
	}
	peak, bw := ref(PeakName, "GFLOP/s"), ref(CopyName, "GB/s")
	for i := range rs {
		for j := range rs[i].Figures {
			f := &rs[i].Figures[j]
			switch {
			case f.Unit == "GFLOP/s" && peak > 0:
				f.Fraction, f.Of = f.Value/peak, PeakName
			case f.Unit == "GB/s" && bw > 0:
				f.Fraction, f.Of = f.Value/bw, CopyName
			}
		}
	}
}

// WriteTable prints a report as a table: each case's figures and the
// first one's fraction of its reference.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "%s\ndevice: %s (%s, %s)\ndriver: %s\nvulkan: %s\n", r.Nfvk, r.Device.Name, r.Device.Type, r.Device.Vendor, r.Device.Driver, r.Device.Vulkan)
	fmt.Fprintf(w, "median of %d runs after warm-up, GPU timestamps; GFLOP/s vs. %s (the compute ceiling), GB/s vs. %s (a reference, not a ceiling)\n\n", r.Reps, PeakName, CopyName)
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tfigures\tvs. reference")
	for _, c := range r.Cases {
		var figs []string
		ref := ""
		for _, f := range c.Figures {
			figs = append(figs, Num(f.Value)+" "+f.Unit)
			if ref == "" && f.Of != "" {
				ref = fmt.Sprintf("%.1f%% of %s", 100*f.Fraction, f.Of)
			}
		}
		switch {
		case c.Error != "":
			figs = []string{"error: " + c.Error}
		case c.Skipped != "":
			figs = []string{c.Skipped}
		}
		name := c.Name
		if c.Reference {
			name += " (reference)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, strings.Join(figs, ", "), ref)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Rows without a reference end in the figures' padding.
	for _, line := range strings.SplitAfter(sb.String(), "\n") {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n"))); err != nil {
			return err
		}
	}
	return nil
}

// Num formats a figure with three significant digits, without exponents
// for the magnitudes figures have.
func Num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteJSON writes r to path, indented, atomically.
func WriteJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// ReadJSON reads a report WriteJSON wrote.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
