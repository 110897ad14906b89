package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

func reportGBs(b *testing.B, bytes float64, t time.Duration) {
	b.ReportMetric(bytes/t.Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(t.Microseconds()), "gpu_us")
}
