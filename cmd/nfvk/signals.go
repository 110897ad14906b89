package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/train"
)

// stopSignals end a command the way Ctrl-C does: SIGTERM is what timeout,
// systemd, Docker and Slurm send, SIGHUP what a closed terminal or SSH
// session sends.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// signalError is the cancellation cause of a context ended by a signal.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "stopped by " + signalName(e.sig) }

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// exitCode is the shell's status for a process ended by s: 128 + its
// number.
func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// notifyStop returns a context cancelled (cause: signalError) by the first
// stop signal, so a command finishes its step and saves; a second signal
// calls exit at once with the signal's status, for a user who will not
// wait. stop ends the handling.
func notifyStop(stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "nfvk: %s: finishing the step and saving a checkpoint (send it again to exit at once)\n", signalName(s))
			cancel(signalError{s})
		case <-done:
			return
		}
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "nfvk: second signal (%s): exiting at once; the last saved checkpoint stays\n", signalName(s))
			exit(exitCode(s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// stopCause returns the signal that cancelled ctx, if one did.
func stopCause(ctx context.Context) (os.Signal, bool) {
	se, ok := context.Cause(ctx).(signalError)
	return se.sig, ok
}

// interruptedError is train's error for a run stopped by a signal (or a
// cancelled context) after saving: what stopped it, the checkpoint and
// how to resume.
func interruptedError(ctx context.Context, res train.Result) error {
	why := "interrupted"
	if sig, ok := stopCause(ctx); ok {
		why = "stopped by " + signalName(sig)
	}
	if res.Dir == "" { // a data-parallel rank other than 0: it writes nothing
		return interruptedErr{fmt.Errorf("%s after step %d (rank 0 saved the run's checkpoint)", why, res.Step)}
	}
	return interruptedErr{fmt.Errorf("%s after step %d; checkpoint %s saved\nresume with: nfvk train --resume %s", why, res.Step, res.Checkpoint, res.Dir)}
}

// interruptedErr marks a run that stopped cleanly on a signal, its state
// saved: the ranks of a data-parallel run then end together rather than
// abort one another.
type interruptedErr struct{ error }

func (e interruptedErr) Unwrap() error { return e.error }

// reportSlowWaits has the device say what it is busy with when a wait
// for it takes long (a slow step is legitimate; silence is not).
func reportSlowWaits(dev *engine.Device, w io.Writer) {
	// On a terminal the report starts a new line after the progress bar
	// (which redraws in place); in a log it is a line of its own.
	lead := ""
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		lead = "\n"
	}
	dev.SetWaitReporter(func(r engine.WaitReport) {
		fmt.Fprintf(w, "%snfvk: the device is still running %s after %v\n", lead, r.What, r.Waited.Round(time.Second))
	})
}
