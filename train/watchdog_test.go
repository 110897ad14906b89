package train

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
)

// TestDeviceLostKeepsCheckpoint loses the device (simulated) in the
// second epoch: the run fails with ErrDeviceLost, the error says after
// which step, names the program that was running and says how to resume,
// and the first epoch's checkpoint is still there and loads.
func TestDeviceLostKeepsCheckpoint(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(64, 1), blobs(32, 2), 2, 16) // 4 steps per epoch
	o.OnStep = func(step int64, _ float32) {
		if step == 5 {
			k.Device().SimulateLoss()
		}
	}
	res, err := Train(context.Background(), o, nil)
	if !errors.Is(err, engine.ErrDeviceLost) {
		t.Fatalf("err %v, want ErrDeviceLost", err)
	}
	for _, want := range []string{"program", "device was lost", "after step 5", "ckpt-000000000004", "nfvk train --resume " + res.Dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	path, err := LatestCheckpoint(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(path)
	if err != nil || c.Step != 4 {
		t.Fatalf("latest checkpoint %s: step %v, err %v; want step 4 loading", path, c, err)
	}
}

// TestWatchdogSetting: 0 derives the watchdog from the measured steps, a
// positive value fixes it, a negative one turns it off; each run puts the
// device's previous setting back.
func TestWatchdogSetting(t *testing.T) {
	k := loopKernels(t)
	dev := k.Device()
	for _, c := range []struct {
		setting time.Duration
		check   func(time.Duration) bool
	}{
		{0, func(w time.Duration) bool { return w >= watchdogFloor }},
		{42 * time.Minute, func(w time.Duration) bool { return w == 42*time.Minute }},
		{-1, func(w time.Duration) bool { return w == 0 }},
	} {
		dev.SetWatchdog(7 * time.Second)
		o := tinyOptions(t, k, blobs(32, 1), blobs(16, 2), 1, 16)
		o.Watchdog = c.setting
		var seen []time.Duration
		o.OnStep = func(int64, float32) { seen = append(seen, dev.Watchdog()) }
		if _, err := Train(context.Background(), o, nil); err != nil {
			t.Fatal(err)
		}
		for i, w := range seen {
			if !c.check(w) {
				t.Errorf("setting %v: watchdog %v during step %d", c.setting, w, i+1)
			}
		}
		if len(seen) == 0 || dev.Watchdog() != 7*time.Second {
			t.Errorf("setting %v: %d steps; watchdog after the run %v, want 7s restored", c.setting, len(seen), dev.Watchdog())
		}
	}
}
