// Command report turns `go test -bench ./bench/` output (stdin) into the
// Markdown table of bench/RESULTS.md (stdout): device, driver, date, each
// figure, and each figure as a percentage of a measured reference:
// BenchmarkPeakFMA for GFLOP/s, the compute ceiling, and
// BenchmarkCopy/64MiB for GB/s, which is a reference but no ceiling (a
// kernel that moves its bytes differently from a copy can pass it). Every
// figure above its reference gets a note saying why it can, or that
// nobody has said.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type result struct {
	name    string
	metrics []metric
}

type metric struct {
	value float64
	unit  string
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	if err := run(os.Stdin, os.Stdout, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, now time.Time) error {
	header := map[string]string{}
	var results []result
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"device", "driver", "vulkan", "cpu"} {
			if v, ok := strings.CutPrefix(line, key+": "); ok {
				header[key] = v
			}
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		r := result{name: m[1]}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if f[i+1] == "ns/op" || f[i+1] == "B/op" || f[i+1] == "allocs/op" {
				continue
			}
			r.metrics = append(r.metrics, metric{v, f[i+1]})
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	peak, copyBW := find(results, peakName, "GFLOP/s"), find(results, copyName, "GB/s")
	fmt.Fprintf(out, "# nfvk benchmark results\n\n")
	fmt.Fprintf(out, "Written by `make bench` on %s.\n\n", now.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "- Device: %s\n- Driver: %s\n- Vulkan: %s\n- Host CPU: %s\n\n",
		or(header["device"]), or(header["driver"]), or(header["vulkan"]), or(header["cpu"]))
	writeReferences(out, peak, copyBW)
	fmt.Fprintf(out, "| benchmark | figure | vs. reference | GPU µs |\n|---|---|---|---|\n")
	var above []string
	for _, r := range results {
		name := strings.TrimPrefix(r.name, "Benchmark")
		var fig, frac, gpu string
		for _, m := range r.metrics {
			switch m.unit {
			case "gpu_us":
				gpu = num(m.value)
			case "GFLOP/s":
				fig = num(m.value) + " GFLOP/s"
				if peak > 0 {
					frac = fmt.Sprintf("%.1f%% of PeakFMA", 100*m.value/peak)
					if m.value > peak && r.name != peakName {
						above = append(above, note(name, frac))
					}
				}
			case "GB/s":
				fig = num(m.value) + " GB/s"
				if copyBW > 0 {
					frac = fmt.Sprintf("%.0f%% of Copy", 100*m.value/copyBW)
					if m.value > copyBW && r.name != copyName {
						above = append(above, note(name, frac))
					}
				}
			default:
				if fig != "" {
					fig += ", "
				}
				fig += num(m.value) + " " + m.unit
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", name, fig, frac, gpu)
	}
	if len(above) > 0 {
		fmt.Fprintf(out, "\nAbove the reference:\n\n%s", strings.Join(above, ""))
	}
	return nil
}

// The reference benchmarks.
const (
	peakName = "BenchmarkPeakFMA"
	copyName = "BenchmarkCopy/64MiB"
)

// writeReferences says what each percentage of the table is of. Copy's
// figure counts bytes the way every GB/s figure does, read plus written,
// which is what makes it comparable, and also why it is no ceiling.
func writeReferences(out io.Writer, peak, copyBW float64) {
	fmt.Fprintf(out, "GPU time from timestamps, median of at least 5 runs after warm-up. "+
		"The \"vs. reference\" column gives each figure as a percentage of one of two measured references:\n\n")
	fmt.Fprintf(out, "- GFLOP/s: of PeakFMA (%s GFLOP/s), register-only FMAs, the device's compute ceiling.\n", num(peak))
	copied := "n/a"
	if copyBW > 0 {
		copied = num(copyBW / 2)
	}
	fmt.Fprintf(out, "- GB/s: of Copy/64MiB (%s GB/s), a 64 MiB buffer-to-buffer copy. "+
		"Every GB/s figure, Copy's included, is bytes read plus bytes written per second of GPU time, "+
		"so Copy's counts 2 bytes moved per byte copied (%s GB/s copied). "+
		"It is a reference, not a ceiling: the bytes a figure counts are not the memory traffic they cause "+
		"(a write may first read its line into cache, data may stay in cache between runs), "+
		"so a kernel that moves its bytes differently from a copy can pass it; each figure above it gets a note below the table.\n\n",
		num(copyBW), copied)
}

// aboveNotes says why a benchmark's figure can pass its reference,
// keyed by benchmark name without the "Benchmark" prefix.
var aboveNotes = map[string]string{
	"Axpby": "y = a·x + b·y reads two vectors and writes one, counted as 3 streams of 4n bytes against Copy's 2. " +
		"It writes y in place, into lines it has just read, where Copy writes lines of a buffer it has not read; " +
		"on a CPU device such as lavapipe, whose caches allocate on write, Copy then likely pays a third stream it " +
		"does not count (about 3 bytes of memory traffic for the 2 it counts) that Axpby does not.",
	"AvgPool/global/bwd": "the global mean's backward writes N·C·H·W values from N·C reads " +
		"(32·1536·12·12 from 32·1536: its reads are 1/145 of its bytes, negligible), " +
		"so its figure is one store stream, near the device's store bandwidth, with no read stream to share it with; " +
		"its 27 MiB output may also stay in the host CPU's last-level cache between the repeated runs.",
}

// note is the line of the notes under the table for a figure above its
// reference.
func note(name, frac string) string {
	why, ok := aboveNotes[name]
	if !ok {
		why = "not explained: check how the benchmark counts its bytes or FLOPs, " +
			"and add the reason to bench/report's aboveNotes."
	}
	return fmt.Sprintf("- %s (%s): %s\n", name, frac, why)
}

func find(rs []result, name, unit string) float64 {
	for _, r := range rs {
		if r.name == name {
			for _, m := range r.metrics {
				if m.unit == unit {
					return m.value
				}
			}
		}
	}
	return 0
}

func num(v float64) string {
	switch {
	case v == 0:
		return "n/a"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func or(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
