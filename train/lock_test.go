package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLockRun: a second lock of a held run is refused naming the holder's
// PID; after Unlock it is free again. (Two opens in one process conflict
// like two processes: the lock belongs to the open file.)
func TestLockRun(t *testing.T) {
	dir := t.TempDir()
	l1, err := LockRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockRun(dir)
	if !errors.Is(err, ErrRunLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrRunLocked naming PID %d", err, os.Getpid())
	}
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockRun(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// TestResumeOfLockedRunRefused: while a run is held, a resume of it is
// refused before it touches anything (the metrics log stays as it was).
func TestResumeOfLockedRunRefused(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(32, 1), blobs(16, 2), 2, 16)
	res, _ := trainedFor(t, o, 2)
	metrics, _ := os.ReadFile(filepath.Join(res.Dir, MetricsFile))
	held, err := LockRun(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ro := o
	ro.Resume = res.Dir
	_, err = Train(context.Background(), ro, nil)
	if !errors.Is(err, ErrRunLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("resume of a held run: %v, want ErrRunLocked naming the holder", err)
	}
	if after, _ := os.ReadFile(filepath.Join(res.Dir, MetricsFile)); string(after) != string(metrics) {
		t.Errorf("metrics changed by the refused resume:\n%s\nwas\n%s", after, metrics)
	}
}

// TestNewRunNameTakenFailsEarly: a taken run name is refused before the
// device is set up.
func TestNewRunNameTakenFailsEarly(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(32, 1), blobs(16, 2), 1, 16)
	if err := os.Mkdir(filepath.Join(o.RunsDir, o.RunName), 0o755); err != nil {
		t.Fatal(err)
	}
	before := k.Device().MemoryStats().PeakBytes
	_, err := Train(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err %v, want the run name refused", err)
	}
	if after := k.Device().MemoryStats().PeakBytes; after != before {
		t.Errorf("device memory peak grew from %d to %d bytes: the device was set up for a run that could not start", before, after)
	}
}
