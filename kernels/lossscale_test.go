package kernels

import (
	"math"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// lossScaleSizes: odd sizes, a vec4 tail, one element, many workgroups.
var lossScaleSizes = []int{1, 3, 4, 7, 33, 1027, 70001}

// uploadU32 copies counters into a new buffer (as float32 bits).
func uploadU32(t *testing.T, d *engine.Device, v []uint32) *engine.Buffer {
	t.Helper()
	f := make([]float32, len(v))
	for i, u := range v {
		f[i] = math.Float32frombits(u)
	}
	return upload(t, d, f)
}

func downloadU32(t *testing.T, b *engine.Buffer) []uint32 {
	t.Helper()
	f := download(t, b)
	v := make([]uint32, len(f))
	for i, x := range f {
		v[i] = math.Float32bits(x)
	}
	return v
}

// TestLossScaleCheck: the flag is set exactly when one element (first,
// middle, last, in the vec4 part or the tail) is Inf or NaN, and a set
// flag stays set; the counters' other words are untouched.
func TestLossScaleCheck(t *testing.T) {
	d, k := testDevice(t)
	bad := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, n := range lossScaleSizes {
		for _, at := range []int{-1, 0, n / 2, n - 1} {
			for bi, b := range bad {
				if at < 0 && bi > 0 {
					continue
				}
				for _, flag0 := range []uint32{0, 1} {
					x := randn(uint64(n), n, 1e30) // large but finite
					if at >= 0 {
						x[at] = b
					}
					want := []uint32{5, 9, flag0}
					if ref.NonFinite(x) {
						want[ref.LossScaleFlag] = 1
					}
					xb, cb := upload(t, d, x), uploadU32(t, d, []uint32{5, 9, flag0})
					runProgram(t, k, func(p *engine.Program) error { return k.LossScaleCheck(p, xb.Span(), cb.Span()) })
					if got := downloadU32(t, cb); !slices.Equal(got, want) {
						t.Errorf("n=%d bad %v at %d flag %d: counters %v, want %v", n, b, at, flag0, got, want)
					}
				}
			}
		}
	}
}

// TestLossScaleMul: scaling and unscaling by a power of two are exact,
// and unscaling after an overflow zeroes x, Inf and NaN included.
func TestLossScaleMul(t *testing.T) {
	d, k := testDevice(t)
	for _, n := range lossScaleSizes {
		for _, c := range []struct {
			s       float32
			flag    uint32
			unscale bool
		}{{65536, 0, false}, {1024, 0, true}, {0.5, 0, true}, {65536, 1, true}, {8, 1, false}} {
			x := randn(uint64(n)+3, n, 1)
			x[n/2] = float32(math.Inf(1))
			want := slices.Clone(x)
			ref.LossScaleMul(want, c.s, c.flag, c.unscale)
			xb := upload(t, d, x)
			sb, cb := upload(t, d, []float32{c.s}), uploadU32(t, d, []uint32{0, 0, c.flag})
			cs := cb.Span()
			if !c.unscale && c.flag == 0 {
				cs = engine.Span{} // the seed: no counters
			}
			runProgram(t, k, func(p *engine.Program) error {
				return k.LossScaleMul(p, xb.Span(), sb.Span(), cs, c.unscale)
			})
			got := download(t, xb)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("n=%d %+v: x[%d] = %v, want %v", n, c, i, got[i], want[i])
					break
				}
			}
		}
	}
}

// TestLossScaleHyperAndUpdate: the step values and the state update
// match the references over a table of states.
func TestLossScaleHyperAndUpdate(t *testing.T) {
	d, k := testDevice(t)
	h := []uint32{math.Float32bits(0.1), math.Float32bits(0.9), math.Float32bits(5e-5), math.Float32bits(0.01),
		math.Float32bits(1e-3), math.Float32bits(1e-4), 1, 77}
	for _, c := range []struct {
		s      float32
		c      [ref.LossScaleCounters]uint32
		growth int
	}{
		{65536, [3]uint32{0, 0, 0}, 2000},
		{65536, [3]uint32{1998, 4, 0}, 2000},
		{65536, [3]uint32{1999, 4, 0}, 2000}, // grows
		{65536, [3]uint32{1999, 4, 1}, 2000}, // overflow: halves
		{1, [3]uint32{1, 0, 0}, 2},
		{0x1p127, [3]uint32{0, 0, 0}, 1}, // growth would overflow float32
	} {
		sb, cb := upload(t, d, []float32{c.s}), uploadU32(t, d, c.c[:])
		hb, ob := uploadU32(t, d, h), uploadU32(t, d, make([]uint32, 8))
		runProgram(t, k, func(p *engine.Program) error {
			if err := k.LossScaleHyper(p, cb.Span(), hb.Span(), ob.Span()); err != nil {
				return err
			}
			return k.LossScaleUpdate(p, sb.Span(), cb.Span(), c.growth)
		})
		if got, want := downloadU32(t, ob), ref.LossScaleHyper(h, c.c[ref.LossScaleFlag]); !slices.Equal(got, want) {
			t.Errorf("%+v: step values %v, want %v", c, got, want)
		}
		ws, wc := ref.LossScaleUpdate(c.s, c.c, uint32(c.growth))
		if got := download(t, sb)[0]; got != ws {
			t.Errorf("%+v: scale %v, want %v", c, got, ws)
		}
		if got := downloadU32(t, cb); !slices.Equal(got, wc[:]) {
			t.Errorf("%+v: counters %v, want %v", c, got, wc)
		}
	}
}

// TestLossScaleErrors: bad spans are refused with the op's name.
func TestLossScaleErrors(t *testing.T) {
	d, k := testDevice(t)
	x, s, c := upload(t, d, make([]float32, 8)), upload(t, d, []float32{1}), uploadU32(t, d, []uint32{0, 0})
	p := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	if err := k.LossScaleCheck(p, x.Span(), c.Span()); err == nil {
		t.Error("check with 2 counters: no error")
	}
	if err := k.LossScaleUpdate(p, s.Span(), x.Span(), 0); err == nil {
		t.Error("growth 0: no error")
	}
	if err := k.LossScaleMul(p, x.Span(), s.Span(), c.Span(), true); err == nil {
		t.Error("unscale with 2 counters: no error")
	}
	if err := k.LossScaleMul(p, x.Span(), x.Span(), x.Span(), true); err == nil {
		t.Error("overlapping spans: no error")
	}
}
