package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	vk "github.com/vulkan-go/vulkan"
)

// fakeFence finishes after busy of simulated time; each poll advances the
// clock by its timeout, as a real wait that timed out would.
type fakeFence struct {
	clock  time.Time
	busy   time.Duration
	start  time.Time
	result vk.Result // returned once busy has passed
}

func (f *fakeFence) now() time.Time { return f.clock }

func (f *fakeFence) poll(timeout time.Duration) vk.Result {
	if f.clock.Sub(f.start) >= f.busy {
		return f.result
	}
	f.clock = f.clock.Add(timeout)
	return vk.Timeout
}

func TestWaitPolled(t *testing.T) {
	cases := []struct {
		name     string
		busy     time.Duration
		result   vk.Result
		watchdog time.Duration
		wantErr  error    // nil: success
		wantMsg  []string // in the error
		reports  int
	}{
		// A step of two hours is legitimate: no fixed cap.
		{name: "long step succeeds", busy: 2 * time.Hour, result: vk.Success, reports: 10},
		{name: "quick", busy: 0, result: vk.Success},
		{name: "device lost", busy: 3 * time.Second, result: vk.ErrorDeviceLost, wantErr: ErrDeviceLost,
			wantMsg: []string{"program step", "device was lost", "VK_ERROR_DEVICE_LOST"}},
		{name: "watchdog", busy: time.Hour, result: vk.Success, watchdog: 90 * time.Second, wantErr: ErrTimeout,
			wantMsg: []string{"program step", "no completion after 1m30s", "watchdog"}, reports: 4},
		{name: "other error", busy: time.Second, result: vk.ErrorOutOfDeviceMemory, wantErr: ErrOutOfDeviceMemory,
			wantMsg: []string{"program step"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1e9, 0)
			f := &fakeFence{clock: t0, start: t0, busy: c.busy, result: c.result}
			var got []WaitReport
			err := waitPolled(context.Background(), f.poll, waitPolicy{what: "program step", watchdog: c.watchdog,
				report: func(r WaitReport) { got = append(got, r) }, now: f.now})
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("err %v, want success", err)
				}
			} else {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want one wrapping %v", err, c.wantErr)
				}
				for _, m := range c.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
			}
			if len(got) != c.reports {
				t.Errorf("%d slow-wait reports, want %d: %v", len(got), c.reports, got)
			}
			for i, r := range got {
				if want := firstSlowReport << i; r.Waited < want || r.What != "program step" {
					t.Errorf("report %d: %+v, want What %q after at least %v", i, r, "program step", want)
				}
			}
		})
	}
}

func TestWaitPolledCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t0 := time.Unix(1e9, 0)
	f := &fakeFence{clock: t0, start: t0, busy: time.Hour, result: vk.Success}
	err := waitPolled(ctx, f.poll, waitPolicy{what: "program p", now: f.now})
	if !errors.Is(err, context.Canceled) || f.clock.Sub(t0) > time.Second {
		t.Fatalf("err %v after %v, want context.Canceled at once", err, f.clock.Sub(t0))
	}
}

// TestSimulatedLossAndWatchdog runs real programs: a simulated loss fails
// the next wait with ErrDeviceLost naming the program, and the device
// still closes cleanly.
func TestSimulatedLossAndWatchdog(t *testing.T) {
	d := openTest(t)
	k := loadTestKernels(t, d)
	const n = 256
	x := newBuf(t, d, "x", n)
	p := d.NewProgram("fill-x", ProgramOptions{})
	defer p.Close()
	if err := p.Dispatch("x = 1", k.fill, groups(n), push(n, float32(1)), Out(x)); err != nil {
		t.Fatal(err)
	}
	d.SetWatchdog(time.Hour)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.Watchdog() != time.Hour {
		t.Fatalf("Watchdog %v, want 1h", d.Watchdog())
	}
	d.SimulateLoss()
	err := p.Run(context.Background())
	if !errors.Is(err, ErrDeviceLost) || !strings.Contains(err.Error(), "program fill-x") {
		t.Fatalf("err %v, want ErrDeviceLost naming program fill-x", err)
	}
}
