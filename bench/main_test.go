package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// One device for the whole run: opening one per benchmark would time
// pipeline creation, not kernels.
var (
	dev *engine.Device
	lib *kernels.Kernels
)

func TestMain(m *testing.M) {
	d, err := engine.Open(engine.Options{})
	if errors.Is(err, engine.ErrNoLoader) || errors.Is(err, engine.ErrNoDevice) {
		fmt.Println("bench: no Vulkan device:", err)
		os.Exit(0)
	}
	if err != nil {
		fmt.Println("bench:", err)
		os.Exit(1)
	}
	dev, lib = d, kernels.New(d)
	in := d.Info()
	fmt.Printf("device: %s (%s, %s)\ndriver: %s\nvulkan: %s\n", in.Name, in.Type, in.Vendor, in.Driver, in.APIVersionString())
	code := m.Run()
	d.Close()
	os.Exit(code)
}

// runFamily runs the registry's cases of one Go benchmark as its
// sub-benchmarks, with the same figures `nfvk bench` prints. A figure is
// the median of max(b.N, 5) runs.
func runFamily(b *testing.B, family string) {
	cs := Family(family)
	if len(cs) == 0 {
		b.Fatalf("no case of %s in the registry", family)
	}
	for _, c := range cs {
		rest, sub := strings.CutPrefix(c.Name, family+"/")
		if !sub {
			runCase(b, c)
			continue
		}
		b.Run(rest, func(b *testing.B) { runCase(b, c) })
	}
}

func runCase(b *testing.B, c Case) {
	env := &Env{Dev: dev, Lib: lib, Reps: max(b.N, 5), Log: func(s string) { b.Log(s) }}
	b.ResetTimer()
	r, err := c.Run(context.Background(), env)
	b.StopTimer()
	if errors.Is(err, ErrSkip) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatalf("%s: %v", c.Name, err)
	}
	for _, m := range r.Metrics {
		b.ReportMetric(m.Value, m.Unit)
	}
}

// The helpers below serve the graph benchmarks, which are not in the
// registry (they need the graph builder, a test-only walk of a layout).

// gpuTime runs p (after two warm-up runs) at least 5 times and b.N times
// and returns the median GPU time of one run, from timestamps.
func gpuTime(b *testing.B, p *engine.Program) time.Duration {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var ts []time.Duration
	b.ResetTimer()
	for i := 0; i < max(b.N, 5); i++ {
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
		_, total, err := p.Timings()
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, total)
	}
	b.StopTimer()
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// program builds a profiled program with build and records it.
func program(b *testing.B, name string, build func(p *engine.Program) error) *engine.Program {
	b.Helper()
	p := dev.NewProgram(name, engine.ProgramOptions{Profile: true})
	b.Cleanup(p.Close)
	if err := build(p); err != nil {
		b.Fatal(err)
	}
	if err := p.Record(); err != nil {
		b.Fatal(err)
	}
	return p
}

func buffer(b *testing.B, name string, n int) *engine.Buffer {
	b.Helper()
	buf, err := dev.NewBuffer(name, int64(4*n))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(buf.Free)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%13) * 0.25
	}
	if err := engine.Upload(buf, v); err != nil {
		b.Fatal(err)
	}
	return buf
}

func reportGFLOPs(b *testing.B, flops float64, t time.Duration) {
	b.ReportMetric(flops/t.Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(t.Microseconds()), "gpu_us")
}
