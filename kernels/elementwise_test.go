package kernels

import (
	"fmt"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// sizes is the conformance table of element counts: odd, not multiples of
// 4 (the vec4 tail) or of the workgroup, and larger than one grid.
var sizes = []int{1, 3, 4, 7, 13, 255, 1000, 4097, 70001, 1 << 20}

func TestFillCopyAxpby(t *testing.T) {
	d, k := testDevice(t)
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := randn(1, n, 1)
			y := randn(2, n, 1)
			bx, by := upload(t, d, x), upload(t, d, y)
			bf, bc, bs := upload(t, d, nans(n)), upload(t, d, nans(n)), upload(t, d, nans(n))
			runProgram(t, k, func(p *engine.Program) error {
				if err := k.Fill(p, bf.Span(), 2.5); err != nil {
					return err
				}
				if err := k.Copy(p, bc.Span(), bx.Span()); err != nil {
					return err
				}
				if err := k.Scale(p, -3, bx.Span(), bs.Span()); err != nil {
					return err
				}
				return k.Axpby(p, 0.5, bx.Span(), 2, by.Span())
			})
			wantF := make([]float32, n)
			ref.Fill(wantF, 2.5)
			wantC := make([]float32, n)
			ref.Copy(wantC, x)
			wantS := append([]float32(nil), x...)
			ref.Scale(-3, wantS)
			wantY := append([]float32(nil), y...)
			ref.Scale(2, wantY)
			ref.Axpy(0.5, x, wantY)
			// Fill and copy are exact; scale and axpby round like the
			// reference's float32 steps up to one ulp of fused rounding.
			assertClose(t, "fill", download(t, bf), wantF, 0, 0)
			assertClose(t, "copy", download(t, bc), wantC, 0, 0)
			assertClose(t, "scale", download(t, bs), wantS, 0, 1e-7)
			assertClose(t, "axpby", download(t, by), wantY, 1e-7, 2.4e-7)
		})
	}
}

// TestCopyAxpby16 runs the size table through the 16-bit variants of
// copy and axpby: copy is exact; axpby's float32 math (TestFillCopyAxpby's
// tolerance) is followed by one rounding to the storage type
// (storageTol).
func TestCopyAxpby16(t *testing.T) {
	d, k := testDevice(t)
	for _, dt := range []DType{F16, BF16} {
		up, down := storageIO(dt)
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%v/%d", dt, n), func(t *testing.T) {
				x, y := storageInputs(dt, randn(1, n, 1)), storageInputs(dt, randn(2, n, 1))
				bx, by := up(t, d, x), up(t, d, y)
				bc, bs := up(t, d, nans(n)), up(t, d, nans(n))
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.CopyOf(p, dt, bc.Span(), bx.Span()); err != nil {
						return err
					}
					if err := k.AxpbyOf(p, dt, -3, bx.Span(), 0, bs.Span()); err != nil {
						return err
					}
					return k.AxpbyOf(p, dt, 0.5, bx.Span(), 2, by.Span())
				})
				wantS := append([]float32(nil), x...)
				ref.Scale(-3, wantS)
				wantY := append([]float32(nil), y...)
				ref.Scale(2, wantY)
				ref.Axpy(0.5, x, wantY)
				assertClose(t, "copy", down(t, bc), x, 0, 0)
				atol, rtol := storageTol(dt, 0, 1e-7)
				assertClose(t, "scale", down(t, bs), wantS, atol, rtol)
				atol, rtol = storageTol(dt, 1e-7, 2.4e-7)
				assertClose(t, "axpby", down(t, by), wantY, atol, rtol)
			})
		}
	}
}

func TestAxpbyInPlace(t *testing.T) {
	d, k := testDevice(t)
	x := randn(3, 1001, 1)
	b := upload(t, d, x)
	runProgram(t, k, func(p *engine.Program) error { return k.Axpby(p, 2, b.Span(), 1, b.Span()) })
	want := make([]float32, len(x))
	for i := range x {
		want[i] = 3 * x[i]
	}
	assertClose(t, "x = 2x + x", download(t, b), want, 0, 1.2e-7)
}

func TestActivations(t *testing.T) {
	d, k := testDevice(t)
	acts := []struct {
		act   Act
		gamma float32
	}{
		{ref.ActGELUTanh, GammaGELU},
		{ref.ActGELUErf, GammaGELU},
		{ref.ActReLU, GammaReLU},
		{ref.ActSiLU, GammaSiLU},
	}
	for _, dt := range storageTypes {
		up, down := storageIO(dt)
		for _, a := range acts {
			for _, n := range []int{1, 7, 13, 1000, 70001} {
				t.Run(fmt.Sprintf("%v/%v/%d", dt, a.act, n), func(t *testing.T) {
					// Inputs cover the tails of the functions (|x| up to ~12).
					x := storageInputs(dt, randn(uint64(n), n, 3))
					dy := storageInputs(dt, randn(uint64(n)+1, n, 1))
					bx, bdy := up(t, d, x), up(t, d, dy)
					by, bdx := up(t, d, nans(n)), up(t, d, nans(n))
					runProgram(t, k, func(p *engine.Program) error {
						if err := k.ActivationOf(p, dt, a.act, a.gamma, bx.Span(), by.Span()); err != nil {
							return err
						}
						return k.ActivationBackwardOf(p, dt, a.act, a.gamma, bx.Span(), bdy.Span(), bdx.Span())
					})
					x64, dy64 := to64(x), to64(dy)
					y64, dx64 := make([]float64, n), make([]float64, n)
					ref.Activate(a.act, float64(a.gamma), x64, y64)
					ref.ActivateBackward(a.act, float64(a.gamma), x64, dy64, dx64)
					// Against the float64 reference: the erf approximation has
					// |error| < 1.5e-7, exp/tanh a few ulps; 2e-6 absolute on
					// values of order gamma*|x| ~ 20 is float32 rounding level
					// (storageTol adds the float16 store).
					atol, rtol := storageTol(dt, 2e-6, 2e-6)
					assertClose(t, "forward", down(t, by), to32(y64), atol, rtol)
					assertClose(t, "backward", down(t, bdx), to32(dx64), atol, rtol)
				})
			}
		}
	}
}

func TestReductions(t *testing.T) {
	d, k := testDevice(t)
	testReductions(t, d, k)
}

func testReductions(t *testing.T, d *engine.Device, k *Kernels) {
	// Fewer than 64 rows take the workgroup-per-row tree; 64 or more the
	// lane-per-row form on CPU devices: both are in the table.
	for _, shape := range [][2]int{{1, 1}, {1, 7}, {3, 13}, {13, 1000}, {64, 4097}, {1000, 9}, {2, 70001}, {65, 1}} {
		rows, cols := shape[0], shape[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			x := randn(uint64(rows*cols), rows*cols, 1)
			bx := upload(t, d, x)
			outs := map[Reduce]*engine.Buffer{}
			for _, op := range []Reduce{ReduceSum, ReduceSumSquares, ReduceMean} {
				outs[op] = upload(t, d, nans(rows))
			}
			runProgram(t, k, func(p *engine.Program) error {
				for op, b := range outs {
					if err := k.ReduceRows(p, op, bx.Span(), rows, cols, b.Span()); err != nil {
						return err
					}
				}
				return nil
			})
			sum, sq, mean := make([]float32, rows), make([]float32, rows), make([]float32, rows)
			ref.RowSumSquares(rows, cols, x, sq)
			for r := 0; r < rows; r++ {
				sum[r] = float32(ref.Sum(x[r*cols : (r+1)*cols]))
				mean[r] = float32(ref.Mean(x[r*cols : (r+1)*cols]))
			}
			// float32 accumulation of cols terms of size ~1: error grows
			// like sqrt(cols)*eps relative to the sum of magnitudes.
			tol := 1e-6 * float64(cols)
			assertClose(t, "sum", download(t, outs[ReduceSum]), sum, tol, 1e-6)
			assertClose(t, "sumsq", download(t, outs[ReduceSumSquares]), sq, tol, 1e-6)
			assertClose(t, "mean", download(t, outs[ReduceMean]), mean, tol/float64(cols), 1e-6)
		})
	}
}

func TestSumAndMeanOfLongVectors(t *testing.T) {
	d, k := testDevice(t)
	for _, n := range []int{1, 5, 4096, 4097, 12288, 1<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := randn(uint64(n), n, 1)
			bx := upload(t, d, x)
			bs, bm := upload(t, d, nans(1)), upload(t, d, nans(1))
			scratch := upload(t, d, nans(max(1, SumScratch(n))))
			runProgram(t, k, func(p *engine.Program) error {
				if err := k.Sum(p, bx.Span(), bs.Span(), scratch.Span()); err != nil {
					return err
				}
				return k.Mean(p, bx.Span(), bm.Span(), scratch.Span())
			})
			var abs float64
			for _, v := range x {
				abs += float64(max(v, -v))
			}
			tol := 1e-6 * abs // float32 accumulation bound relative to sum |x|
			assertClose(t, "sum", download(t, bs), []float32{float32(ref.Sum(x))}, tol, 0)
			assertClose(t, "mean", download(t, bm), []float32{float32(ref.Mean(x))}, tol/float64(n), 0)
		})
	}
}

// TestSpansBeyondStorageRange: a tensor larger than maxStorageBufferRange
// (128 MiB on lavapipe) is processed in several dispatches.
func TestSpansBeyondStorageRange(t *testing.T) {
	d, k := testDevice(t)
	n := int(d.Info().MaxStorageBufferRange/4) + 1000
	if int64(n)*4*2 > 1<<30 {
		t.Skipf("maxStorageBufferRange %d: too large to test here", d.Info().MaxStorageBufferRange)
	}
	a, err := d.NewBuffer("a", int64(4*n))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()
	b, err := d.NewBuffer("b", int64(4*n))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	p := d.NewProgram("big", engine.ProgramOptions{})
	defer p.Close()
	if err := k.Fill(p, a.Span(), 1.5); err != nil {
		t.Fatal(err)
	}
	if err := k.Axpby(p, 2, a.Span(), 0, b.Span()); err != nil {
		t.Fatal(err)
	}
	if p.Len() < 4 {
		t.Errorf("%d dispatches for two ops over %d bytes: not split", p.Len(), 4*n)
	}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	if err := engine.Download(b, got); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, n / 2, n - 1001, n - 1000, n - 1} {
		if got[i] != 3 {
			t.Fatalf("b[%d] = %v, want 3", i, got[i])
		}
	}
}

func TestElementwiseRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, b := upload(t, d, make([]float32, 10)), upload(t, d, make([]float32, 12))
	longRow := maxLoopIterations*int(k.Tuning().ReduceLocal) + 1
	long := upload(t, d, make([]float32, longRow))
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"copy sizes":  k.Copy(p, a.Span(), b.Span()),
		"axpby sizes": k.Axpby(p, 1, a.Span(), 1, b.Span()),
		"odd bytes":   k.Fill(p, a.Span().Sub(0, 6), 0),
		"no buffer":   k.Fill(p, engine.Span{}, 0),
		"act kind":    k.Activation(p, ref.ActTanh, 1, a.Span(), a.Span()),
		"reduce rows": k.ReduceRows(p, ReduceSum, a.Span(), 3, 4, b.Span()),
		"reduce zero": k.ReduceRows(p, ReduceSum, a.Span(), 0, 4, b.Span()),
		// A row longer than the loop cap times the workgroup is refused.
		"reduce loop cap": k.ReduceRows(p, ReduceSum, long.Span(), 1, longRow, b.Span()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}

func to64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func to32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}
