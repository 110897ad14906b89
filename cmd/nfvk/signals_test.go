//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nfvk/nfvk/train"
)

// built is the nfvk binary the tests run, built once (buildNFVK).
var built struct {
	sync.Once
	dir, bin string
	err      error
	out      []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildNFVK builds the command once per test run: signals and concurrent
// runs are tested on the real binary, as users meet them.
func buildNFVK(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if built.dir, built.err = os.MkdirTemp("", "nfvk-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "nfvk")
		built.out, built.err = exec.Command(goTool, "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a started nfvk process.
type proc struct {
	cmd      *exec.Cmd
	out, err syncBuffer
	done     chan struct{}
	waitErr  error
}

func startNFVK(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code, failing the test after limit.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%v still running after %v\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, limit, p.out.String(), p.err.String())
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	if p.waitErr != nil {
		t.Fatal(p.waitErr)
	}
	return 0
}

// until polls cond every 50 ms for up to limit.
func until(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s after %v", what, limit)
		}
	}
}

// longTrainArgs train the tiny model for far longer than the test runs.
func longTrainArgs(t *testing.T, dir string) []string {
	writeFolderData(t, dir, 32)
	return []string{"train", "--config", tinyConfigFile(t, dir), "--data", "folder", "--data-dir", dir, "--size", "8",
		"--epochs", "10000", "--batch", "8", "--crop-pad", "0", "--runs", filepath.Join(dir, "runs"), "--run", "r", "--quiet"}
}

// TestSIGTERMAndConcurrentResume runs the binary: while a run trains, a
// second `train --resume` of it is refused naming the first one's PID;
// SIGTERM then stops the first like Ctrl-C (a checkpoint after the last
// step, status 143, a message saying so), and the run resumes.
func TestSIGTERMAndConcurrentResume(t *testing.T) {
	needDevice(t)
	bin := buildNFVK(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	runDir := filepath.Join(dir, "runs", "r")
	a := startNFVK(t, bin, longTrainArgs(t, dir)...)
	until(t, 3*time.Minute, "first checkpoint", func() bool {
		_, err := train.LatestCheckpoint(runDir)
		return err == nil
	})

	b := startNFVK(t, bin, "train", "--resume", runDir, "--data-dir", dir)
	if code := b.wait(t, 2*time.Minute); code == 0 || !strings.Contains(b.err.String(), "in use by process "+strconv.Itoa(a.cmd.Process.Pid)) {
		t.Fatalf("second resume: status %d, stderr %q; want a refusal naming PID %d", code, b.err.String(), a.cmd.Process.Pid)
	}

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := a.wait(t, 2*time.Minute)
	stderr := a.err.String()
	if code != 128+int(syscall.SIGTERM) || !strings.Contains(stderr, "stopped by SIGTERM after step") || !strings.Contains(stderr, "resume with: nfvk train --resume "+runDir) {
		t.Fatalf("after SIGTERM: status %d, stderr:\n%s", code, stderr)
	}
	latest, err := train.LatestCheckpoint(runDir)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := train.LoadCheckpoint(latest)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "after step "+strconv.FormatInt(ck.Step, 10)+";") {
		t.Errorf("the message names another step than the latest checkpoint's (%d):\n%s", ck.Step, stderr)
	}
	c := startNFVK(t, bin, "train", "--resume", runDir, "--data-dir", dir, "--max-steps", strconv.FormatInt(ck.Step+1, 10), "--quiet")
	if code := c.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("resume after SIGTERM: status %d\n%s\n%s", code, c.out.String(), c.err.String())
	}
}

// TestSecondSignalExitsAtOnce: a second signal while the first one's
// checkpoint is pending ends the process at once with its status.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	needDevice(t)
	bin := buildNFVK(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	p := startNFVK(t, bin, longTrainArgs(t, dir)...)
	until(t, 2*time.Minute, "device line", func() bool { return strings.Contains(p.out.String(), "device:") })
	// Two different signals: a second identical one may merge with the
	// first while it is still pending.
	for _, s := range []os.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		if err := p.cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
	}
	// Pending signals are delivered in either order.
	code := p.wait(t, 10*time.Second)
	second := map[int]string{128 + int(syscall.SIGHUP): "SIGHUP", 128 + int(syscall.SIGTERM): "SIGTERM"}[code]
	if second == "" || !strings.Contains(p.err.String(), "second signal ("+second+"): exiting at once") {
		t.Fatalf("status %d, stderr:\n%s", code, p.err.String())
	}
}
