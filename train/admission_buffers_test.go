package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// TestAdmissionRefusesOversizedTensor: a model whose final 1x1 conv alone
// needs a weight larger than one buffer may be (the device's
// maxStorageBufferRange, or an allocation cap from Options.Limits), while
// the whole run fits the device's memory, is refused before anything is
// allocated or created on disk, naming the tensor, its size and the
// limit; the same layer a little smaller is admitted.
func TestAdmissionRefusesOversizedTensor(t *testing.T) {
	const capBytes = 32 << 20
	cases := []struct {
		name   string
		limits engine.Limits
		// size is the final conv weight's bytes for the device's limits.
		size  func(engine.DeviceInfo) int64
		limit string // the limit the error must name, "" if admitted
	}{
		{"range", engine.Limits{}, func(i engine.DeviceInfo) int64 { return int64(i.MaxStorageBufferRange) + 1<<20 }, "per storage buffer (maxStorageBufferRange)"},
		{"range fits", engine.Limits{}, func(i engine.DeviceInfo) int64 { return int64(i.MaxStorageBufferRange) - 1<<20 }, ""},
		{"allocation cap", engine.Limits{MaxMemoryAllocationSize: capBytes}, func(engine.DeviceInfo) int64 { return capBytes + 1<<20 }, "per buffer (maxBufferSize)"},
		{"allocation cap fits", engine.Limits{MaxMemoryAllocationSize: capBytes}, func(engine.DeviceInfo) int64 { return capBytes - 1<<20 }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := enginetest.OpenWith(t, engine.Options{Limits: c.limits})
			info := d.Info()
			size := c.size(info)
			// Parameters, gradients, momentum and EMA: four times the weight.
			if 5*size > int64(d.MemoryBudget().Available()) {
				t.Skipf("a %d MiB layer would not fit %s's memory four times over: the total, not the buffer, would be refused", size>>20, info.Name)
			}
			o := tinyOptions(t, kernels.New(d), blobs(8, 1), blobs(4, 2), 1, 1)
			o.Model.NumFeatures = int(size / 64) // 16 input channels, 4 bytes each
			if c.limit == "" {                   // admitted: checked without training it
				l, err := nfnet.NewLayout(o.Model)
				if err != nil {
					t.Fatal(err)
				}
				so := SessionOptions{Kernels: o.Kernels, Train: nfnet.TrainOptions{Batch: 1, Height: 8, Width: 8, Recipe: o.Recipe.Recipe}, EvalBatch: 1, EvalHeight: 8, EvalWidth: 8}
				if err := admit(l, so, 0); err != nil {
					t.Fatalf("a layer within the limits refused: %v", err)
				}
				return
			}
			start := time.Now()
			_, err := Train(context.Background(), o, nil)
			took := time.Since(start)
			want := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("needs a %s buffer for final_conv.weight [%d 16 1 1]; device %s allows %s %s",
				bytesize(size), o.Model.NumFeatures, info.Name, bytesize(size-1<<20), c.limit)))
			if !errors.Is(err, ErrBufferTooLarge) || !want.MatchString(err.Error()) {
				t.Fatalf("err %v\nwant ErrBufferTooLarge matching %v", err, want)
			}
			t.Logf("refused in %v: %v", took, err)
			if took > 10*time.Second { // well under a second unloaded
				t.Errorf("took %v to refuse", took)
			}
			if peak := d.MemoryStats().PeakBytes; peak != 0 {
				t.Errorf("%d bytes of device memory allocated for a refused run", peak)
			}
			if _, err := os.Stat(filepath.Join(o.RunsDir, o.RunName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run directory created for a run that cannot start (%v)", err)
			}
		})
	}
}
