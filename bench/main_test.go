package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

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
	if os.Getenv("NFVK_BENCH_TUNING") == "gpu" {
		// A GPU class's tiles and lane budget (e.g. the split backward
		// filter) on this device.
		info := d.Info()
		info.Type, info.VendorID = engine.TypeDiscrete, 0
		lib = lib.WithTuning(kernels.TuningFor(info))
		fmt.Println("tuning: the generic GPU class (NFVK_BENCH_TUNING=gpu)")
	}
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
