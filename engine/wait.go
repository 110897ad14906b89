package engine

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Waits for the device have no fixed wall-clock cap: a long step is
// legitimate (a big model on a CPU driver, a busy shared device). A wait
// polls its fence in short slices, so cancellation is noticed and slow
// waits are reported, and ends with an error only when the driver reports
// the device lost or the device's watchdog (SetWatchdog, off unless set)
// runs out.

// waitSlice is one poll of a fence: short, so a cancelled context or an
// expired watchdog is noticed within it.
const waitSlice = 50 * time.Millisecond

// firstSlowReport is when a wait is first reported slow (WaitReport);
// later reports come at doubling intervals.
const firstSlowReport = 10 * time.Second

// WaitReport describes a wait for the device that is taking long: What is
// running (a program's name) and how long it has been waited for.
type WaitReport struct {
	What   string
	Waited time.Duration
}

// waitState is the device's wait policy; its zero value has no watchdog
// and no reporting.
type waitState struct {
	watchdog atomic.Int64 // nanoseconds; 0: none
	mu       sync.Mutex
	report   func(WaitReport)
	lost     atomic.Bool // SimulateLoss was called
}

// SetWatchdog bounds every later wait for the device: a wait longer than d
// fails with an error wrapping ErrTimeout that names what was running. 0
// (the default) turns it off. Callers derive d from the time their work
// was measured to take (train derives it from its step time), never from
// a fixed guess, since a legitimate step can take minutes.
func (d *Device) SetWatchdog(dur time.Duration) { d.wait.watchdog.Store(int64(max(dur, 0))) }

// Watchdog returns the current watchdog (0: none).
func (d *Device) Watchdog() time.Duration { return time.Duration(d.wait.watchdog.Load()) }

// SetWaitReporter sets f to be called, from the waiting goroutine, when a
// wait has lasted 10 s and then at doubling intervals, so a front end can
// say what the device is busy with. nil stops the reports.
func (d *Device) SetWaitReporter(f func(WaitReport)) {
	d.wait.mu.Lock()
	d.wait.report = f
	d.wait.mu.Unlock()
}

func (d *Device) waitReporter() func(WaitReport) {
	d.wait.mu.Lock()
	defer d.wait.mu.Unlock()
	return d.wait.report
}

// SimulateLoss makes every later wait for the device fail as if the
// driver had reported VK_ERROR_DEVICE_LOST. It exists so that callers can
// test how they handle a lost device (no driver loses one on demand); the
// device stays usable for Close.
func (d *Device) SimulateLoss() { d.wait.lost.Store(true) }

// waitFence waits for fence without a fixed cap; what names the work for
// errors and reports. A cancelled ctx returns its error with the work
// still running (the fence is then still pending).
func (d *Device) waitFence(ctx context.Context, fence vk.Fence, what string) error {
	cf := C.VkFence(unsafe.Pointer(fence))
	poll := func(timeout time.Duration) vk.Result {
		r := vk.Result(C.nfvk_wait_fence(d.fns, cf, C.uint64_t(timeout)))
		if r == vk.Success && d.wait.lost.Load() {
			// Simulated: the work did finish, so the objects it used
			// can still be destroyed cleanly.
			return vk.ErrorDeviceLost
		}
		return r
	}
	return waitPolled(ctx, poll, waitPolicy{
		what:     what,
		watchdog: d.Watchdog(),
		report:   d.waitReporter(),
		now:      time.Now,
	})
}

// waitPolicy parameterises waitPolled (a clock of its own for tests).
type waitPolicy struct {
	what     string
	watchdog time.Duration // 0: none
	report   func(WaitReport)
	now      func() time.Time
}

// waitPolled calls poll with waitSlice until it reports success, the
// device lost or another error, ctx ends, or the watchdog runs out.
func waitPolled(ctx context.Context, poll func(time.Duration) vk.Result, p waitPolicy) error {
	start := p.now()
	nextReport := firstSlowReport
	for {
		r := poll(waitSlice)
		if r == vk.Success {
			return nil
		}
		waited := p.now().Sub(start)
		if r != vk.Timeout {
			err := check("vkWaitForFences", r)
			if r == vk.ErrorDeviceLost {
				return fmt.Errorf("%s: the device was lost while running it (after %v; a driver reset or GPU fault): %w",
					p.what, waited.Round(time.Millisecond), err)
			}
			return fmt.Errorf("%s: %w", p.what, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", p.what, err)
		}
		if p.watchdog > 0 && waited >= p.watchdog {
			return fmt.Errorf("%s: no completion after %v (the watchdog; raise or turn it off if the work is legitimately this slow): %w",
				p.what, waited.Round(time.Second), ErrTimeout)
		}
		if p.report != nil && waited >= nextReport {
			p.report(WaitReport{What: p.what, Waited: waited})
			nextReport *= 2
		}
	}
}
