package kernels

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// nchwShapes is the conformance table of the NCHW families: batch 1 and
// larger, odd channel counts, per-sample sizes that are and are not
// multiples of 4 (the vec4 path), even and odd spatial sizes.
var nchwShapes = []ref.NCHWShape{
	{N: 1, C: 1, H: 1, W: 1}, {N: 1, C: 3, H: 7, W: 7}, {N: 3, C: 7, H: 9, W: 13}, {N: 2, C: 13, H: 8, W: 8},
	{N: 9, C: 5, H: 3, W: 3}, {N: 13, C: 16, H: 6, W: 6}, {N: 4, C: 64, H: 17, W: 16}, {N: 32, C: 3, H: 1, W: 1},
}

// seedBuf returns an 8-byte device buffer holding seed.
func seedBuf(t *testing.T, d *engine.Device, seed uint64) *engine.Buffer {
	t.Helper()
	b, err := d.NewBuffer("seed", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	if err := WriteSeed(b.Span(), seed); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestResidual(t *testing.T) {
	d, k0 := testDevice(t)
	// Both ways of summing dskip_gain: per invocation (the CPU tuning) and
	// per workgroup (GPUs), the latter forced through a generic tuning.
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testResidual(t, d, k) })
	}
}

func testResidual(t *testing.T, d *engine.Device, k *Kernels) {
	for _, dt := range storageTypes {
		testResidualOf(t, d, k, dt)
	}
}

// testResidualOf runs the shape table through the variant storing dt:
// its inputs are dt values, and the float16 variant's stores each round
// once more (storageTol); the float32 skip-gain sum is the same.
func testResidualOf(t *testing.T, d *engine.Device, k *Kernels, dt DType) {
	const alpha = ref.ResidualAlpha
	up, down := storageIO(dt)
	for _, s := range nchwShapes {
		for _, withMask := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/%dx%dx%dx%d/mask=%v", dt, s.N, s.C, s.H, s.W, withMask), func(t *testing.T) {
				n := s.Len()
				seed := uint64(n + s.N)
				sc, h, dout := storageInputs(dt, randn(seed, n, 1)), storageInputs(dt, randn(seed+1, n, 1)), storageInputs(dt, randn(seed+2, n, 1))
				skip := []float32{0.37}
				var mask []float32
				bmask := engine.Span{}
				if withMask {
					mask = make([]float32, s.N)
					for i := range mask {
						mask[i] = float32(i % 2) // sample 0 dropped
					}
					bmask = upload(t, d, mask).Span()
				}
				bsc, bh, bdout, bskip := up(t, d, sc), up(t, d, h), up(t, d, dout), upload(t, d, skip)
				bout, bdh, bds, bdskip := up(t, d, nans(n)), up(t, d, nans(n)), up(t, d, nans(n)), upload(t, d, nans(1))
				bdh2, bdskip2 := up(t, d, nans(n)), upload(t, d, nans(1))
				binplace := up(t, d, sc)
				scratch := upload(t, d, nans(k.ResidualScratch(s)))
				scratch2 := upload(t, d, nans(k.ResidualScratch(s)))
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.ResidualOf(p, dt, s, alpha, bsc.Span(), bh.Span(), bskip.Span(), bmask, bout.Span()); err != nil {
						return err
					}
					if err := k.ResidualOf(p, dt, s, alpha, binplace.Span(), bh.Span(), bskip.Span(), bmask, binplace.Span()); err != nil {
						return err
					}
					if err := k.ResidualBackwardOf(p, dt, s, alpha, bh.Span(), bskip.Span(), bmask, bdout.Span(), bds.Span(), bdh.Span(), bdskip.Span(), scratch.Span()); err != nil {
						return err
					}
					return k.ResidualBackwardOf(p, dt, s, alpha, bh.Span(), bskip.Span(), bmask, bdout.Span(), engine.Span{}, bdh2.Span(), bdskip2.Span(), scratch2.Span())
				})
				var m64 []float64
				if withMask {
					m64 = to64(mask)
				}
				out := make([]float64, n)
				ref.Residual(s, alpha, float64(skip[0]), to64(sc), to64(h), m64, out)
				ds, dh := make([]float64, n), make([]float64, n)
				dskip := ref.ResidualBackward(s, alpha, float64(skip[0]), to64(h), m64, to64(dout), ds, dh)
				// out = sc + k*h with k = alpha*skip rounded to float32
				// first: k and k*h round (2u of |k*h|), the sum and the
				// reference's own float32 rounding 2u of |out|. dh = k*dout:
				// 2 roundings plus the reference's.
				const u = 1.0 / (1 << 24)
				maxH := 0.0
				for _, v := range h {
					maxH = max(maxH, math.Abs(float64(v)))
				}
				outAtol, outRtol := storageTol(dt, 2*u*alpha*0.37*maxH, 2*u)
				assertClose(t, "out", down(t, bout), to32(out), outAtol, outRtol)
				assertClose(t, "out in place", down(t, binplace), down(t, bout), 0, 0)
				dhAtol, dhRtol := storageTol(dt, 0, 3*u)
				assertClose(t, "dh", down(t, bdh), to32(dh), dhAtol, dhRtol)
				assertClose(t, "dshortcut", down(t, bds), down(t, bdout), 0, 0)
				assertClose(t, "dh without dshortcut", down(t, bdh2), down(t, bdh), 0, 0)
				// dskip: fp32 sum of n products in per-invocation runs,
				// a workgroup tree and the partials' sum; bound it by
				// (n+3)*2^-24 (recursive summation, plus the product,
				// alpha and the final rounding) of alpha*sum|h*dout|.
				abs := 0.0
				for i := range h {
					abs += math.Abs(float64(h[i]) * float64(dout[i]))
				}
				tol := alpha * abs * float64(n+3) * math.Pow(2, -24)
				assertClose(t, "dskip_gain", download(t, bdskip), []float32{float32(dskip)}, tol, 0)
				assertClose(t, "dskip_gain without dshortcut", download(t, bdskip2), download(t, bdskip), 0, 0)
			})
		}
	}
}

// TestDropPathAndDropoutBitExact: the GPU's masks and dropout outputs are
// bit for bit ref's (integer keep decisions, one float32 multiply).
func TestDropPathAndDropoutBitExact(t *testing.T) {
	d, k0 := testDevice(t)
	// The CPU tuning's streaming runs and the GPUs' interleaved lanes.
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testDropPathAndDropout(t, d, k) })
	}
}

func testDropPathAndDropout(t *testing.T, d *engine.Device, k *Kernels) {
	cases := []struct {
		seed, stream uint64
		rate         float64
	}{
		{0, 0, 0.2}, {1, 7, 0.5}, {0xDEADBEEF12345678, 0xFFFFFFFF00000001, 0.25}, {42, 3, 0}, {42, 3, 1}, {9, 1 << 40, 0.9},
	}
	for _, c := range cases {
		for _, n := range []int{1, 3, 7, 9, 13, 1000, 70001} {
			t.Run(fmt.Sprintf("seed%x/stream%x/rate%v/%d", c.seed, c.stream, c.rate, n), func(t *testing.T) {
				bs := seedBuf(t, d, c.seed)
				x := randn(uint64(n), n, 1)
				bx, by, bm, bip := upload(t, d, x), upload(t, d, nans(n)), upload(t, d, nans(n)), upload(t, d, x)
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.DropPathMask(p, bs.Span(), c.stream, 1-c.rate, bm.Span()); err != nil {
						return err
					}
					if err := k.Dropout(p, bs.Span(), c.stream, c.rate, bx.Span(), by.Span()); err != nil {
						return err
					}
					return k.DropoutBackward(p, bs.Span(), c.stream, c.rate, bip.Span(), bip.Span())
				})
				mask := make([]float32, n)
				ref.DropPathMask(c.seed, c.stream, 1-c.rate, mask)
				y := make([]float32, n)
				ref.Dropout(c.seed, c.stream, c.rate, x, y)
				assertBits(t, "mask", download(t, bm), mask)
				assertBits(t, "dropout", download(t, by), y)
				assertBits(t, "dropout backward in place", download(t, bip), y)
			})
		}
	}
}

// TestSeedReplay: a recorded program draws new masks after WriteSeed and
// the same masks again when a seed is written back (a replayed step).
func TestSeedReplay(t *testing.T) {
	d, k := testDevice(t)
	const n = 4099
	bs := seedBuf(t, d, 5)
	bm := upload(t, d, nans(n))
	p := d.NewProgram("replay", engine.ProgramOptions{})
	defer p.Close()
	if err := k.DropPathMask(p, bs.Span(), 11, 0.5, bm.Span()); err != nil {
		t.Fatal(err)
	}
	want := func(seed uint64) []float32 {
		m := make([]float32, n)
		ref.DropPathMask(seed, 11, 0.5, m)
		return m
	}
	for _, seed := range []uint64{5, 6, 5} {
		if err := WriteSeed(bs.Span(), seed); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		assertBits(t, fmt.Sprintf("seed %d", seed), download(t, bm), want(seed))
	}
}

func assertBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	bad := 0
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d differ", what, bad, len(want))
	}
}

func TestResidualRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, one := upload(t, d, make([]float32, 24)), upload(t, d, make([]float32, 1))
	seed := upload(t, d, make([]float32, 2))
	s := ref.NCHWShape{N: 2, C: 3, H: 2, W: 2}
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"zero C":      k.Residual(p, ref.NCHWShape{N: 2, C: 0, H: 2, W: 2}, 0.2, a.Span(), a.Span(), one.Span(), engine.Span{}, a.Span()),
		"h too small": k.Residual(p, ref.NCHWShape{N: 2, C: 3, H: 2, W: 3}, 0.2, a.Span(), a.Span(), one.Span(), engine.Span{}, a.Span()),
		"mask small":  k.Residual(p, ref.NCHWShape{N: 24, C: 1, H: 1, W: 1}, 0.2, a.Span(), a.Span(), one.Span(), one.Span(), a.Span()),
		"no skip":     k.Residual(p, s, 0.2, a.Span(), a.Span(), engine.Span{}, engine.Span{}, a.Span()),
		"nan alpha":   k.Residual(p, s, float32(math.NaN()), a.Span(), a.Span(), one.Span(), engine.Span{}, a.Span()),
		"bwd scratch": k.ResidualBackward(p, ref.NCHWShape{N: 24, C: 1, H: 1, W: 1}, 0.2, a.Span(), one.Span(), engine.Span{}, a.Span(), engine.Span{}, a.Span(), one.Span(), engine.Span{}),
		// 96 bytes hold 48 float16, fewer than the 60 elements of the shape.
		"f16 too small": k.ResidualOf(p, F16, ref.NCHWShape{N: 2, C: 3, H: 2, W: 5}, 0.2, a.Span(), a.Span(), one.Span(), engine.Span{}, a.Span()),
		"bwd dskip":     k.ResidualBackward(p, s, 0.2, a.Span(), one.Span(), engine.Span{}, a.Span(), engine.Span{}, a.Span(), engine.Span{}, a.Span()),
		"dropout rate":  k.Dropout(p, seed.Span(), 0, 1.5, a.Span(), a.Span()),
		"dropout sizes": k.Dropout(p, seed.Span(), 0, 0.5, a.Span(), one.Span()),
		"short seed":    k.Dropout(p, one.Span(), 0, 0.5, a.Span(), a.Span()),
		"mask keep":     k.DropPathMask(p, seed.Span(), 0, -0.1, a.Span()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}

// TestResidualAndDropoutBeyondStorageRange: tensors larger than
// maxStorageBufferRange (128 MiB on lavapipe) are split into dispatches;
// samples straddle the split (the mask index continues) and the dropout
// stream continues across it (the base index).
func TestResidualAndDropoutBeyondStorageRange(t *testing.T) {
	d, k := testDevice(t)
	lim := int(d.Info().MaxStorageBufferRange / 4)
	if int64(lim)*4*3 > 1<<30 {
		t.Skipf("maxStorageBufferRange %d: too large to test here", d.Info().MaxStorageBufferRange)
	}
	per := (lim + 4093) / 3 // odd: samples start off vec4 boundaries too
	s := ref.NCHWShape{N: 3, C: per, H: 1, W: 1}
	n := s.Len()
	big := func(name string, fill float32) *engine.Buffer {
		b, err := d.NewBuffer(name, int64(4*n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Free)
		v := make([]float32, n)
		for i := range v {
			v[i] = fill
		}
		if err := engine.Upload(b, v); err != nil {
			t.Fatal(err)
		}
		return b
	}
	sc, h, out := big("shortcut", 1), big("h", 2), big("out", float32(math.NaN()))
	skip, mask := upload(t, d, []float32{0.5}), upload(t, d, []float32{1, 0, 1})
	seed := seedBuf(t, d, 77)
	drop := big("dropped", float32(math.NaN()))
	p := d.NewProgram("big", engine.ProgramOptions{})
	defer p.Close()
	if err := k.Residual(p, s, 0.2, sc.Span(), h.Span(), skip.Span(), mask.Span(), out.Span()); err != nil {
		t.Fatal(err)
	}
	if err := k.Dropout(p, seed.Span(), 5, 0.5, h.Span(), drop.Span()); err != nil {
		t.Fatal(err)
	}
	// The float16 variant splits at the same elements, at half the byte
	// offsets (chunkElems keeps them aligned).
	fill16 := func(v float32) *engine.Buffer { return uploadF16(t, d, slices.Repeat([]float32{v}, n)) }
	sc16, h16, out16 := fill16(1), fill16(2), fill16(float32(math.NaN()))
	if err := k.ResidualOf(p, F16, s, 0.2, sc16.Span(), h16.Span(), skip.Span(), mask.Span(), out16.Span()); err != nil {
		t.Fatal(err)
	}
	if p.Len() < 4 {
		t.Errorf("%d dispatches for two ops over %d bytes: not split", p.Len(), 4*n)
	}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, dropped := make([]float32, n), make([]float32, n)
	if err := engine.Download(out, got); err != nil {
		t.Fatal(err)
	}
	if err := engine.Download(drop, dropped); err != nil {
		t.Fatal(err)
	}
	got16 := downloadF16(t, out16)
	chunk := k.chunkElems()
	for _, i := range []int{0, per - 1, per, 2*per - 1, 2 * per, chunk - 1, chunk, chunk + 1, n - 1} {
		want := float32(1 + 0.2*0.5*2) // samples 0 and 2 kept
		if i/per == 1 {
			want = 1
		}
		if math.Abs(float64(got[i]-want)) > 1e-6 {
			t.Errorf("out[%d] (sample %d) = %v, want %v", i, i/per, got[i], want)
		}
		if math.Abs(float64(got16[i]-want)) > f16Unit*1.2 { // one float16 rounding of 1.2
			t.Errorf("f16 out[%d] (sample %d) = %v, want %v", i, i/per, got16[i], want)
		}
		wantD := float32(0)
		if ref.RandomBits(77, 5, uint64(i))>>8 >= ref.DropThreshold(0.5) {
			wantD = 2 * ref.DropoutScale[float32](0.5)
		}
		if dropped[i] != wantD {
			t.Errorf("dropout[%d] = %v, want %v", i, dropped[i], wantD)
		}
	}
}
