package train

import (
	"errors"
	"fmt"
	"time"

	"github.com/nfvk/nfvk/engine"
)

// The automatic watchdog: a device wait longer than watchdogFactor times
// the slowest step measured so far (and at least watchdogFloor) is taken
// for a hung device. The margin is wide since a shared or throttled device
// can slow down many-fold without being broken; before the first step is
// measured there is none.
const (
	watchdogFactor = 50
	watchdogFloor  = 5 * time.Minute
)

// stepWatch sets the device's watchdog from the measured step time (or
// Options.Watchdog) for the duration of a run.
type stepWatch struct {
	dev     *engine.Device
	auto    bool
	slowest time.Duration
	prev    time.Duration
}

// newStepWatch applies Options.Watchdog: > 0 fixes it, < 0 turns it off,
// 0 derives it from the steps as they are measured.
func newStepWatch(dev *engine.Device, setting time.Duration) *stepWatch {
	w := &stepWatch{dev: dev, auto: setting == 0, prev: dev.Watchdog()}
	switch {
	case setting > 0:
		dev.SetWatchdog(setting)
	default:
		dev.SetWatchdog(0)
	}
	return w
}

// observe records one step's wall time (submit to completion).
func (w *stepWatch) observe(step time.Duration) {
	if !w.auto || step <= w.slowest {
		return
	}
	w.slowest = step
	w.dev.SetWatchdog(max(watchdogFloor, watchdogFactor*step))
}

// restore puts back the device's watchdog from before the run.
func (w *stepWatch) restore() { w.dev.SetWatchdog(w.prev) }

// explainDeviceFailure adds to an error of a lost or hung device where the
// run stands: the steps done, the last checkpoint (written before the
// failure, so intact) and how to resume. Other errors pass unchanged.
func (l *loop) explainDeviceFailure(err error) error {
	lost := errors.Is(err, engine.ErrDeviceLost)
	if !lost && !errors.Is(err, engine.ErrTimeout) {
		return err
	}
	what := "the device was lost"
	if !lost {
		what = "the device stopped responding"
	}
	if l.lastCkpt == "" {
		return fmt.Errorf("%w\n%s after step %d, before the run's first checkpoint: start it again (with --watchdog if a step is legitimately this slow)", err, what, l.global)
	}
	return fmt.Errorf("%w\n%s after step %d; the last checkpoint %s is intact: resume with: nfvk train --resume %s", err, what, l.global, l.lastCkpt, l.run.Dir)
}
