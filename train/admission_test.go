package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
)

// TestAdmissionRefusesWhatCannotFit: a run whose planned memory exceeds
// the device's (or the given limit) is refused before anything is
// allocated or created on disk, promptly and using little host memory,
// saying what it needs and what the device has.
func TestAdmissionRefusesWhatCannotFit(t *testing.T) {
	k := loopKernels(t)
	big, err := nfnet.Variant("f3") // 255 M parameters: 4 GB of state alone
	if err != nil {
		t.Fatal(err)
	}
	big.InChans, big.NumClasses = 3, 4
	// Batch 1024 at 64x64: about 40 GiB of activations and state, more
	// than lavapipe offers (Mesa 22.3: a 2 GiB heap; 25.0: the RAM).
	const batch, side = 1024, 64
	if avail := k.Device().MemoryBudget().Available(); avail > 64<<30 {
		t.Skipf("the device offers %d GiB: the big case would fit", avail>>30)
	}
	rgb := &data.Dataset{Images: make([]float32, batch*3*side*side), Labels: make([]int32, batch), N: batch, C: 3, H: side, W: side,
		Classes: []string{"a", "b", "c", "d"}}
	cases := []struct {
		name  string
		setup func(*Options)
	}{
		{"limit", func(o *Options) { o.DeviceMemoryLimit = 16 << 10 }},
		{"device", func(o *Options) { o.Model, o.Train, o.Test = big, rgb, rgb; o.Recipe.Batch = batch }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions(t, k, blobs(32, 1), blobs(16, 2), 1, 16)
			c.setup(&o)
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			peak0 := k.Device().MemoryStats().PeakBytes
			start := time.Now()
			_, err := Train(context.Background(), o, nil)
			took := time.Since(start)
			runtime.ReadMemStats(&ms1)
			if !errors.Is(err, ErrDoesNotFit) || !strings.Contains(err.Error(), "of device memory") || !strings.Contains(err.Error(), "device "+k.Device().Info().Name+" has") {
				t.Fatalf("err %v, want ErrDoesNotFit saying what is needed and what the device has", err)
			}
			t.Logf("refused in %v, %d MB allocated: %v", took, (ms1.TotalAlloc-ms0.TotalAlloc)>>20, err)
			if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 256<<20 {
				t.Errorf("allocated %d MB of host memory to refuse it", alloc>>20)
			}
			if took > 10*time.Second { // about a second unloaded; tests share the machine
				t.Errorf("took %v to refuse", took)
			}
			if peak := k.Device().MemoryStats().PeakBytes; peak != peak0 {
				t.Errorf("device memory peak went from %d to %d: memory was allocated", peak0, peak)
			}
			if _, err := os.Stat(filepath.Join(o.RunsDir, o.RunName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run directory created for a run that cannot start (%v)", err)
			}
		})
	}
}
