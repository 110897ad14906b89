package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

func TestSEGate(t *testing.T) {
	d, k0 := testDevice(t)
	// The CPU tuning's streaming runs and the GPUs' interleaved lanes.
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testSEGate(t, d, k) })
	}
}

// testSEGate runs both storage variants: the float16 one stores x, dy,
// y and dx as float16 (z, dm and dz stay float32), so y and dx gain the
// float16 store's rounding (storageTol) and dz, summed in float32 from
// float16 inputs, keeps its tolerance.
func testSEGate(t *testing.T, d *engine.Device, k *Kernels) {
	for _, dt := range storageTypes {
		for _, s := range nchwShapes {
			t.Run(fmt.Sprintf("%v/%dx%dx%dx%d", dt, s.N, s.C, s.H, s.W), func(t *testing.T) { testSEGateOf(t, d, k, dt, s) })
		}
	}
}

func testSEGateOf(t *testing.T, d *engine.Device, k *Kernels, dt DType, s ref.NCHWShape) {
	const gain = ref.SEGain
	up, down := storageIO(dt)
	n, planes := s.Len(), s.N*s.C
	seed := uint64(n)
	// Logits out to |z| ~ 12 reach both saturated ends of the sigmoid.
	z, x, dy, dm := randn(seed, planes, 4), storageInputs(dt, randn(seed+1, n, 1)), storageInputs(dt, randn(seed+2, n, 1)), randn(seed+3, planes, 1)
	bz, bx, bdy, bdm := upload(t, d, z), up(t, d, x), up(t, d, dy), upload(t, d, dm)
	by, bdz, bdx, bdxg := up(t, d, nans(n)), upload(t, d, nans(planes)), up(t, d, nans(n)), up(t, d, nans(n))
	bip := up(t, d, dy)
	runProgram(t, k, func(p *engine.Program) error {
		if err := k.SEGateOf(p, dt, s, gain, bz.Span(), bx.Span(), by.Span()); err != nil {
			return err
		}
		if err := k.SEGateDZOf(p, dt, s, gain, bz.Span(), bx.Span(), bdy.Span(), bdz.Span()); err != nil {
			return err
		}
		if err := k.SEGateBackwardOf(p, dt, s, gain, bz.Span(), bdy.Span(), bdm.Span(), bdx.Span()); err != nil {
			return err
		}
		if err := k.SEGateBackwardOf(p, dt, s, gain, bz.Span(), bdy.Span(), engine.Span{}, bdxg.Span()); err != nil {
			return err
		}
		return k.SEGateBackwardOf(p, dt, s, gain, bz.Span(), bip.Span(), bdm.Span(), bip.Span()) // in place
	})
	z64, x64, dy64 := to64(z), to64(x), to64(dy)
	y, dz, dxg := make([]float64, n), make([]float64, planes), make([]float64, n)
	ref.SEGate(s, gain, z64, x64, y)
	ref.SEGateBackward(s, gain, z64, x64, dy64, dz, dxg)
	dxm := make([]float64, n)
	ref.GlobalAvgPoolBackward(s, to64(dm), dxm)
	dx := make([]float64, n)
	for i := range dx {
		dx[i] = dxg[i] + dxm[i]
	}
	// The gate: exp, 1+e, the division and the product round
	// (a few ulps; GLSL's exp is specified to 3 ulps relative
	// error: 8u). The fused sum adds the mean term: 8u of the
	// larger term, which bounds |dx| from above.
	u := math.Pow(2, -24)
	atol, rtol := storageTol(dt, 0, 8*u)
	assertClose(t, "y", down(t, by), to32(y), atol, rtol)
	assertClose(t, "dx gate only", down(t, bdxg), to32(dxg), atol, rtol)
	absDx := make([]float32, n)
	for i := range absDx {
		absDx[i] = float32(math.Abs(dxg[i]) + math.Abs(dxm[i]))
	}
	got := down(t, bdx)
	for i := range dx {
		if e := math.Abs(float64(got[i]) - dx[i]); e > atol+rtol*float64(absDx[i]) {
			t.Fatalf("dx[%d] = %v, want %v (|err| %g > %g + %g * %g)", i, got[i], dx[i], e, atol, rtol, absDx[i])
		}
	}
	assertClose(t, "dx in place", down(t, bip), got, 0, 0)
	// dz: a sequential fp32 sum of HW/4 vec4 products, then the
	// sigmoid factor: (HW/4 + 5) roundings of gain*s*(1-s)*sum|dy*x|.
	hw := s.H * s.W
	scale := make([]float32, planes)
	for pl := range scale {
		sg := 1 / (1 + math.Exp(-z64[pl]))
		for i := pl * hw; i < (pl+1)*hw; i++ {
			scale[pl] += float32(gain * sg * (1 - sg) * math.Abs(x64[i]*dy64[i]))
		}
	}
	gotDz := download(t, bdz)
	for pl := range dz {
		tol := (float64(hw)/4+5+8)*u*float64(scale[pl]) + 8*u*math.Abs(dz[pl])
		if e := math.Abs(float64(gotDz[pl]) - dz[pl]); !(e <= tol) {
			t.Fatalf("dz[%d] = %v, want %v (|err| %g > %g)", pl, gotDz[pl], dz[pl], e, tol)
		}
	}
}

func TestSERejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, b := upload(t, d, make([]float32, 16)), upload(t, d, make([]float32, 3))
	s := ref.NCHWShape{N: 2, C: 2, H: 2, W: 2}
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"zero W":      k.SEGate(p, ref.NCHWShape{N: 2, C: 2, H: 2, W: 0}, 2, b.Span(), a.Span(), a.Span()),
		"z small":     k.SEGate(p, s, 2, b.Span(), a.Span(), a.Span()),
		"x small":     k.SEGate(p, s, 2, a.Span(), b.Span(), a.Span()),
		"dz small":    k.SEGateDZ(p, s, 2, a.Span(), a.Span(), a.Span(), b.Span()),
		"dmean small": k.SEGateBackward(p, s, 2, a.Span(), a.Span(), b.Span(), a.Span()),
		"no z":        k.SEGateBackward(p, s, 2, engine.Span{}, a.Span(), a.Span(), a.Span()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}
