// Command report turns `go test -bench ./bench/` output (stdin) into the
// Markdown table of bench/RESULTS.md (stdout): device, driver, date, each
// figure, and each kernel's fraction of the device's ceilings
// (BenchmarkPeakFMA for GFLOP/s, BenchmarkCopy/64MiB for GB/s).
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
	peak, copyBW := find(results, "BenchmarkPeakFMA", "GFLOP/s"), find(results, "BenchmarkCopy/64MiB", "GB/s")
	fmt.Fprintf(out, "# nfvk benchmark results\n\n")
	fmt.Fprintf(out, "Written by `make bench` on %s.\n\n", now.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "- Device: %s\n- Driver: %s\n- Vulkan: %s\n- Host CPU: %s\n\n",
		or(header["device"]), or(header["driver"]), or(header["vulkan"]), or(header["cpu"]))
	fmt.Fprintf(out, "GPU time from timestamps, median of at least 5 runs after warm-up. Fractions are of BenchmarkPeakFMA (%s GFLOP/s) for compute and of BenchmarkCopy/64MiB (%s GB/s) for bandwidth.\n\n",
		num(peak), num(copyBW))
	fmt.Fprintf(out, "| benchmark | figure | fraction of ceiling | GPU µs |\n|---|---|---|---|\n")
	for _, r := range results {
		var fig, frac, gpu string
		for _, m := range r.metrics {
			switch m.unit {
			case "gpu_us":
				gpu = num(m.value)
			case "GFLOP/s":
				fig = num(m.value) + " GFLOP/s"
				if peak > 0 {
					frac = fmt.Sprintf("%.1f%% of PeakFMA", 100*m.value/peak)
				}
			case "GB/s":
				fig = num(m.value) + " GB/s"
				if copyBW > 0 {
					frac = fmt.Sprintf("%.0f%% of Copy", 100*m.value/copyBW)
				}
			default:
				if fig != "" {
					fig += ", "
				}
				fig += num(m.value) + " " + m.unit
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", strings.TrimPrefix(r.name, "Benchmark"), fig, frac, gpu)
	}
	return nil
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
