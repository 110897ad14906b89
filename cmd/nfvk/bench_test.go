package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/bench"
	"github.com/nfvk/nfvk/engine"
)

// TestBenchCommand runs one cheap case from the command, as a kernel
// developer would, and compares its report with itself.
func TestBenchCommand(t *testing.T) {
	if _, err := engine.Devices(); err != nil {
		t.Skipf("no Vulkan device: %v", err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--quick", "--filter", "^Dropout$", "--json", path}, &out, &errb); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^Dropout\s+\S+ GB/s, \d+ gpu_us\s+\S+% of Copy/64MiB$`).MatchString(out.String()) {
		t.Errorf("table lacks Dropout's figure and fraction:\n%s", out.String())
	}
	rep, err := bench.ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Device.Name == "" || rep.Device.Driver == "" || rep.Device.Vulkan == "" || rep.Nfvk.Version == "" || rep.Reps != 3 || !rep.Quick {
		t.Errorf("report header %+v %+v reps %d quick %v", rep.Device, rep.Nfvk, rep.Reps, rep.Quick)
	}
	var names []string
	for _, c := range rep.Cases {
		names = append(names, c.Name)
		if c.Error != "" || len(c.Figures) == 0 || c.Figures[0].Value <= 0 {
			t.Errorf("case %+v", c)
		}
		if wantRef := c.Name != "Dropout"; c.Reference != wantRef {
			t.Errorf("%s: reference %v, want %v", c.Name, c.Reference, wantRef)
		}
	}
	if strings.Join(names, " ") != "PeakFMA Copy/64MiB Dropout" {
		t.Errorf("cases %v, want the references and Dropout", names)
	}
	if f := rep.Cases[2].Figures[0]; f.Unit != "GB/s" || f.Of != bench.CopyName || f.Fraction <= 0 {
		t.Errorf("Dropout's figure %+v lacks its fraction of Copy", f)
	}

	out.Reset()
	if err := run(context.Background(), []string{"bench", "compare", path, path}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && (f[0] == "PeakFMA" || f[0] == "Copy/64MiB" || f[0] == "Dropout") {
			rows++
			if f[4] != "1.00" {
				t.Errorf("ratio of a report with itself: %q", line)
			}
		}
	}
	if rows != 6 || !strings.Contains(out.String(), "(3 cases): 1.00") {
		t.Errorf("compare of a report with itself (%d figure rows):\n%s", rows, out.String())
	}
}

// TestBenchCompareFormat checks compare's table on two handmade reports:
// ratios B/A, a case in only one of them, one skipped.
func TestBenchCompareFormat(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fig := func(v float64, unit string) bench.Figure {
		return bench.Figure{Metric: bench.Metric{Value: v, Unit: unit}}
	}
	a := &bench.Report{Nfvk: bench.Build{Version: "v0.1.0", Revision: "abc"}, Date: date,
		Device: bench.DeviceInfo{Name: "gpu0", Driver: "drv 1", Vulkan: "1.3.0"},
		Cases: []bench.CaseResult{
			{Name: "SGEMM/1024", Figures: []bench.Figure{fig(100, "GFLOP/s"), fig(2000, "gpu_us")}},
			{Name: "Axpby", Figures: []bench.Figure{fig(8, "GB/s")}},
			{Name: "TrainStep/fixture", Figures: []bench.Figure{fig(300, "images/s")}},
		}}
	b := &bench.Report{Nfvk: bench.Build{Version: "v0.2.0", Revision: "def", Modified: true}, Date: date.Add(time.Hour),
		Device: bench.DeviceInfo{Name: "gpu1", Driver: "drv 2", Vulkan: "1.4.0"},
		Cases: []bench.CaseResult{
			{Name: "TrainStep/fixture", Skipped: "skipped: no fixtures"},
			{Name: "SGEMM/1024", Figures: []bench.Figure{fig(250, "GFLOP/s"), fig(800, "gpu_us")}},
			{Name: "Dispatch/empty", Figures: []bench.Figure{fig(30, "us/dispatch")}},
		}}
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for p, r := range map[string]*bench.Report{pa: a, pb: b} {
		if err := bench.WriteJSON(p, r); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bench", "compare", pa, pb}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := "A: " + pa + ": nfvk v0.1.0 abc on gpu0 (drv 1), vulkan 1.3.0, 2026-12-01 10:00 UTC\n" +
		"B: " + pb + ": nfvk v0.2.0 def (modified) on gpu1 (drv 2), vulkan 1.4.0, 2026-12-01 11:00 UTC\n" +
		`
case               unit     A     B    B/A
SGEMM/1024         GFLOP/s  100   250  2.50
SGEMM/1024         gpu_us   2000  800  0.40
Axpby                       only in A
TrainStep/fixture           skipped in B
Dispatch/empty                only in B

geomean of B/A over each case's first figure (1 cases): 2.50
`
	if got := out.String(); got != want {
		t.Errorf("compare printed\n%s\nwant\n%s", got, want)
	}
	if err := run(context.Background(), []string{"bench", "compare", pa}, &out, &errb); err == nil {
		t.Error("compare of one report: no error")
	}
	if err := os.WriteFile(pb, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"bench", "compare", pa, pb}, &out, &errb); err == nil || !strings.Contains(err.Error(), pb) {
		t.Errorf("compare of a broken report: %v", err)
	}
}
