//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEachStopSignal: SIGINT, SIGTERM and SIGHUP each cancel the command's
// context with the signal as the cause (the step finishes, a checkpoint
// is saved), and a second signal exits at once with 128 + its number.
func TestEachStopSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(signalName(sig), func(t *testing.T) {
			var stderr bytes.Buffer
			exited := make(chan int, 1)
			ctx, stop := notifyStop(&stderr, func(code int) { exited <- code })
			defer stop()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%v did not cancel the context", sig)
			}
			if got, ok := stopCause(ctx); !ok || got != sig {
				t.Fatalf("cause %v (%v), want %v", context.Cause(ctx), got, sig)
			}
			if err := context.Cause(ctx); !strings.Contains(err.Error(), "stopped by "+signalName(sig)) {
				t.Errorf("cause %q does not name %s", err, signalName(sig))
			}
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-exited:
				if code != 128+int(sig) {
					t.Errorf("second %v: exit %d, want %d", sig, code, 128+int(sig))
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("a second %v did not exit", sig)
			}
			if !strings.Contains(stderr.String(), "finishing the step and saving a checkpoint") {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}
