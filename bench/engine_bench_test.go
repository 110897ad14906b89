package bench

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/shaders"
)

func rawPipeline(b *testing.B, name string, spec ...uint32) *engine.Pipeline {
	b.Helper()
	code, err := shaders.SPIRV(name)
	if err != nil {
		b.Fatal(err)
	}
	p, err := dev.Pipeline(&engine.Shader{Name: name, SPIRV: code}, spec...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPeakFMA is the device's fp32 compute ceiling: register-only
// vec4 FMAs over enough workgroups to fill every core.
func BenchmarkPeakFMA(b *testing.B) {
	const local, iters = 64, 4096
	groups := 1024
	if dev.Info().IsCPU() {
		groups = 64
	}
	pipe := rawPipeline(b, "peak_fma", local)
	out := buffer(b, "out", 4)
	push := binary.LittleEndian.AppendUint32(nil, iters)
	push = binary.LittleEndian.AppendUint32(push, math.Float32bits(0.999))
	push = binary.LittleEndian.AppendUint32(push, math.Float32bits(0.001))
	p := program(b, "peak_fma", func(p *engine.Program) error {
		return p.Dispatch("fma", pipe, [3]uint32{uint32(groups), 1, 1}, push, engine.Out(out))
	})
	t := gpuTime(b, p)
	flops := float64(groups*local) * iters * 8 * 4 * 2
	reportGFLOPs(b, flops, t)
}

// BenchmarkCopy is the bandwidth reference: a 64 MiB device-to-device
// copy through the copy kernel (bytes read + written). It is not a
// ceiling: a kernel with fewer reads per write, or data left in cache,
// can exceed it.
func BenchmarkCopy(b *testing.B) {
	b.Run("64MiB", func(b *testing.B) {
		n := 64 << 20 / 4
		src, dst := buffer(b, "src", n), buffer(b, "dst", n)
		p := program(b, "copy", func(p *engine.Program) error { return lib.Copy(p, dst.Span(), src.Span()) })
		reportGBs(b, 2*4*float64(n), gpuTime(b, p))
	})
}

// BenchmarkDispatch measures fixed costs: an empty dispatch inside a
// recorded program (GPU time / dispatches), and one submit + fence wait
// of a one-dispatch program (host wall time).
func BenchmarkDispatch(b *testing.B) {
	pipe := rawPipeline(b, "empty")
	b.Run("empty", func(b *testing.B) {
		const n = 500
		p := program(b, "empty", func(p *engine.Program) error {
			for i := 0; i < n; i++ {
				if err := p.Dispatch("empty", pipe, [3]uint32{1, 1, 1}, nil); err != nil {
					return err
				}
			}
			return nil
		})
		t := gpuTime(b, p)
		b.ReportMetric(float64(t.Nanoseconds())/n/1e3, "us/dispatch")
	})
	b.Run("submit", func(b *testing.B) {
		p := dev.NewProgram("submit", engine.ProgramOptions{})
		b.Cleanup(p.Close)
		if err := p.Dispatch("empty", pipe, [3]uint32{1, 1, 1}, nil); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
		// At least 200 submits whatever -benchtime says: a handful is
		// dominated by the driver's worker threads waking up.
		n := max(b.N, 200)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := p.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n)/1e3, "us/submit")
	})
}
