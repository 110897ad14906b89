package train

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfvk/nfvk/nfnet"
)

// sigkillEnv tells a re-executed test binary to be the checkpoint writer:
// its value is "MODE:DIR".
const sigkillEnv = "NFVK_TRAIN_SIGKILL_CHILD"

// sigkillKeep is how many checkpoints the "run" mode child keeps.
const sigkillKeep = 2

// killConfig makes checkpoints of about 3 MB, big enough that a kill
// often lands inside a write (the test logs how often it did).
func killConfig(t testing.TB) nfnet.Config {
	cfg := tinyConfig(t)
	cfg.Channels = []int{64, 192}
	return cfg
}

// TestCheckpointSIGKILL re-executes the test binary as a child that saves
// checkpoints in a loop, SIGKILLs it at random moments, and checks after
// each kill that the latest checkpoint loads, is exactly one of the
// versions the child wrote (never a mixture or a torn file), is the last
// one the child reported saved or the one after it, and that at most one
// temporary file is left. The next child continues from that checkpoint,
// so leftovers of one kill meet the next writer. Mode "overwrite" replaces
// one path (SaveCheckpoint); mode "run" writes a file per step and prunes
// (Run.SaveCheckpoint, LatestCheckpoint).
func TestCheckpointSIGKILL(t *testing.T) {
	if spec := os.Getenv(sigkillEnv); spec != "" {
		sigkillChild(t, spec)
		return
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs SIGKILL and subprocesses")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, mode := range []string{"overwrite", "run"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			midWrite := 0
			const iterations = 10
			for it := range iterations {
				last, sawTemp := sigkillOnce(t, mode, dir, rng)
				if sawTemp {
					midWrite++
				}
				c, path := latestOf(t, mode, dir)
				if c.Step != last && c.Step != last+1 {
					t.Fatalf("iteration %d: %s holds step %d; the child last reported step %d saved", it, path, c.Step, last)
				}
				if want := makeCheckpoint(t, killConfig(t), c.Step); !equalCheckpoints(c, want) {
					t.Fatalf("iteration %d: %s (step %d) differs from the version written for that step", it, path, c.Step)
				}
			}
			t.Logf("%d of %d kills left a temporary file (landed inside a write)", midWrite, iterations)
		})
	}
}

// sigkillOnce runs one child until it has saved at least once, kills it
// after a random delay, and returns the last step it reported saved and
// whether a temporary file was left behind. It fails the test if more than
// one is.
func sigkillOnce(t *testing.T, mode, dir string, rng *rand.Rand) (last int64, sawTemp bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), sigkillEnv+"="+mode+":"+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	var mu sync.Mutex
	last = -1
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		once := sync.OnceFunc(func() { close(first) })
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
				step, err := strconv.ParseInt(s, 10, 64)
				if err == nil {
					mu.Lock()
					last = step
					mu.Unlock()
					once()
				}
			}
		}
		once() // the child died without saving: let the parent see it
	}()
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child saved nothing in 30 s")
	}
	// A save of the kill config takes some milliseconds; delays up to 60 ms
	// land before, inside and after writes.
	time.Sleep(time.Duration(rng.Int64N(int64(60 * time.Millisecond))))
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	<-done
	cmd.Wait() // "signal: killed", expected
	mu.Lock()
	defer mu.Unlock()
	if last < 0 {
		t.Fatal("child exited without saving a checkpoint")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var temps, ckpts []string
	for _, e := range entries {
		switch {
		case strings.Contains(e.Name(), ".tmp"):
			temps = append(temps, e.Name())
		case strings.HasSuffix(e.Name(), ".safetensors"):
			ckpts = append(ckpts, e.Name())
		}
	}
	if len(temps) > 1 {
		t.Fatalf("%d temporary files accumulated: %v", len(temps), temps)
	}
	// A kill between a save and its pruning leaves one extra checkpoint.
	if mode == "run" && len(ckpts) > sigkillKeep+1 {
		t.Fatalf("%d checkpoints with keep %d: %v", len(ckpts), sigkillKeep, ckpts)
	}
	return last, len(temps) == 1
}

// latestOf loads the checkpoint a resumed run would use.
func latestOf(t *testing.T, mode, dir string) (*Checkpoint, string) {
	t.Helper()
	path := filepath.Join(dir, "checkpoint.safetensors")
	if mode == "run" {
		var err error
		if path, err = LatestCheckpoint(dir); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	return c, path
}

// sigkillChild is the writer: it continues from the latest checkpoint in
// dir and saves step after step, reporting each completed save on stdout,
// until it is killed (or, as a safety net, after 60 s).
func sigkillChild(t *testing.T, spec string) {
	mode, dir, ok := strings.Cut(spec, ":")
	if !ok {
		t.Fatalf("bad %s %q", sigkillEnv, spec)
	}
	step := int64(0)
	path := filepath.Join(dir, "checkpoint.safetensors")
	if mode == "run" {
		path, _ = LatestCheckpoint(dir) // "" before the first save
	}
	if _, err := os.Stat(path); err == nil {
		c, err := LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		step = c.Step + 1
	}
	cfg := killConfig(t)
	run := &Run{Dir: dir}
	deadline := time.Now().Add(60 * time.Second)
	for ; time.Now().Before(deadline); step++ {
		c := makeCheckpoint(t, cfg, step)
		var err error
		if mode == "run" {
			_, err = run.SaveCheckpoint(c, sigkillKeep)
		} else {
			err = SaveCheckpoint(filepath.Join(dir, "checkpoint.safetensors"), c)
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("saved %d\n", step)
	}
}
