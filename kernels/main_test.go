package kernels

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
)

// testDevice opens the default device (lavapipe here) with the validation
// layer when it is installed; any validation message fails the test.
func testDevice(t *testing.T) (*engine.Device, *Kernels) {
	t.Helper()
	d := enginetest.Open(t)
	return d, New(d)
}

// runProgram records what build adds to a fresh program and runs it once.
func runProgram(t *testing.T, k *Kernels, build func(p *engine.Program) error) {
	t.Helper()
	p := k.Device().NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	if err := build(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// upload copies v into a new device buffer freed at the end of the test.
func upload(t *testing.T, d *engine.Device, v []float32) *engine.Buffer {
	t.Helper()
	b, err := d.NewBuffer(t.Name(), int64(4*max(len(v), 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	if err := engine.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

// download reads all of b as float32.
func download(t *testing.T, b *engine.Buffer) []float32 {
	t.Helper()
	v := make([]float32, b.Size()/4)
	if err := engine.Download(b, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// randn returns n normal samples, seeded.
func randn(seed uint64, n int, scale float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// nans returns n NaNs: output buffers start as garbage to prove a kernel
// writes every element (and, for beta = 0, never reads them).
func nans(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

// assertClose fails when |got-want| > atol + rtol*|want| anywhere.
func assertClose(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: got %d elements, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= atol+rtol*math.Abs(w)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (atol %g, rtol %g)", what, i, g, w, atol, rtol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(want))
	}
}
