package kernels

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
)

// BenchmarkGEMMTiles times GEMMs by GPU timestamps: the median of at
// least 5 runs after a warm-up run (which also JITs the pipeline on
// lavapipe), reported as GFLOP/s = 2*M*N*K / t. The "tuned" tile is the
// device's Tuning entry (its BigTM variant at these sizes); the others are
// candidates for the table. Every run also checks a few rows of C against
// ref.GEMM, since the big tiles are too slow to JIT for the tests.
//
//	go test ./kernels -run '^$' -bench GEMMTiles -benchtime 5x
func BenchmarkGEMMTiles(b *testing.B) {
	d, err := engine.Open(engine.Options{})
	if errors.Is(err, engine.ErrNoLoader) || errors.Is(err, engine.ErrNoDevice) {
		b.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	k := New(d)
	b.Logf("device: %v", d.Info())
	type namedTile struct {
		name string
		tile GEMMTile
	}
	tiles := []namedTile{{"tuned", k.Tuning().GEMM}}
	if k.Tuning().Class == "cpu" {
		tiles = append(tiles,
			namedTile{"sg64x128k2", GEMMTile{Kernel: GEMMSubgroup, WG: 8, TM: 8, TN: 4, TK: 2}},
			namedTile{"sg32x256k1", GEMMTile{Kernel: GEMMSubgroup, WG: 8, TM: 4, TN: 8, TK: 1}},
			namedTile{"sg32x128k1", GEMMTile{Kernel: GEMMSubgroup, WG: 8, TM: 4, TN: 4, TK: 1}},
		)
	}
	shapes := []GEMMShape{
		{M: 1024, N: 1024, K: 1024},
		{M: 1000, N: 1000, K: 1000},
		{M: 1024, N: 1024, K: 1024, TransA: true},
		{M: 1024, N: 1024, K: 1024, TransB: true},
	}
	limit := int(d.Info().MaxStorageBufferRange / 4)
	for _, s := range shapes {
		for _, tc := range tiles {
			b.Run(fmt.Sprintf("%dx%dx%d%s/%s", s.M, s.N, s.K, transName(s), tc.name), func(b *testing.B) {
				benchGEMM(b, d, k, s, tc.tile, limit)
			})
		}
	}
}

func benchGEMM(b *testing.B, d *engine.Device, k *Kernels, s GEMMShape, tile GEMMTile, limit int) {
	av, bv := randn(1, s.ALen(), 1), randn(2, s.BLen(), 1)
	buf := func(v []float32) *engine.Buffer {
		x, err := d.NewBuffer("gemm bench", int64(4*len(v)))
		if err != nil {
			b.Fatal(err)
		}
		if err := engine.Upload(x, v); err != nil {
			b.Fatal(err)
		}
		return x
	}
	ba, bb, bc := buf(av), buf(bv), buf(nans(s.CLen()))
	defer ba.Free()
	defer bb.Free()
	defer bc.Free()
	p := d.NewProgram("gemm bench", engine.ProgramOptions{Profile: true})
	defer p.Close()
	if err := k.gemm(p, s, 1, ba.Span(), bb.Span(), 0, bc.Span(), tile, limit); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Run(ctx); err != nil { // warm-up and JIT
		b.Fatal(err)
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
	gemmSpotCheck(b, s, av, bv, bc)
	slices.Sort(ts)
	med := ts[len(ts)/2]
	b.ReportMetric(2*float64(s.M)*float64(s.N)*float64(s.K)/med.Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(med.Microseconds())/1e3, "ms/gemm")
}

// gemmSpotCheck compares rows 0, M/2 and M-1 of C (alpha 1, beta 0) with
// ref.GEMM in float64, with the bound of gemmCase.check.
func gemmSpotCheck(b *testing.B, s GEMMShape, a, bm []float32, bc *engine.Buffer) {
	c := make([]float32, s.CLen())
	if err := engine.Download(bc, c); err != nil {
		b.Fatal(err)
	}
	u := math.Ldexp(1, -24)
	gamma := float64(s.K+3) * u / (1 - float64(s.K+3)*u)
	for _, i := range []int{0, s.M / 2, s.M - 1} {
		for j := 0; j < s.N; j++ {
			var sum, abs float64
			for k := 0; k < s.K; k++ {
				x, y := gemmAt(a, s.TransA, s.Lda(), i, k), gemmAt(bm, s.TransB, s.Ldb(), k, j)
				sum += x * y
				abs += math.Abs(x * y)
			}
			if got := float64(c[i*s.Ldc()+j]); !(math.Abs(got-sum) <= gamma*abs) {
				b.Fatalf("c[%d,%d] = %v, want %v", i, j, got, sum)
			}
		}
	}
}

// gemmAt is op(X)[r][c] of a row-major X with leading dimension ld.
func gemmAt(x []float32, trans bool, ld, r, c int) float64 {
	if trans {
		r, c = c, r
	}
	return float64(x[r*ld+c])
}
