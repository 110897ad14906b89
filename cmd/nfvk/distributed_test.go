package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfvk/nfvk/mpi/mpitest"
	"github.com/nfvk/nfvk/train"
)

// Data-parallel training end to end: this test binary runs as the ranks
// under mpirun (TestRankMain), so every rank is the same program.

const (
	// rankArgsEnv holds TestRankMain's nfvk arguments, separated by \x1f;
	// rank1ArgsEnv, when set, rank 1's instead (ranks that disagree).
	rankArgsEnv  = "NFVK_TEST_RANK_ARGS"
	rank1ArgsEnv = "NFVK_TEST_RANK1_ARGS"
)

// TestRankMain is one rank of the data-parallel tests.
func TestRankMain(t *testing.T) {
	v := os.Getenv(rankArgsEnv)
	if v == "" {
		t.Skip("runs as one rank of the data-parallel tests, under mpirun")
	}
	if r1 := os.Getenv(rank1ArgsEnv); r1 != "" && os.Getenv("OMPI_COMM_WORLD_RANK") == "1" {
		v = r1
	}
	// As main: Ctrl-C (SIGINT) stops the run after a step.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Split(v, "\x1f"), os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
}

// rankCommand is nfvk args on np ranks under mpirun; rank1, when set,
// gives rank 1 other arguments.
func rankCommand(t *testing.T, np int, args, rank1 []string) *exec.Cmd {
	t.Helper()
	cmd, err := mpitest.Command(np, os.Args[0], "-test.run", "^TestRankMain$", "-test.count=1")
	if err != nil {
		t.Skip(err)
	}
	cmd.Env = append(os.Environ(), rankArgsEnv+"="+strings.Join(args, "\x1f"))
	if rank1 != nil {
		cmd.Env = append(cmd.Env, rank1ArgsEnv+"="+strings.Join(rank1, "\x1f"))
	}
	return cmd
}

// trainRanks runs nfvk train args on np ranks (np 1: in this process,
// without MPI) and fails the test on an error.
func trainRanks(t *testing.T, np int, args ...string) string {
	t.Helper()
	args = append([]string{"train"}, args...)
	if np == 1 {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out, err := rankCommand(t, np, args, nil).CombinedOutput()
	if err != nil {
		t.Fatalf("%d ranks, %v: %v\n%s", np, args, err, out)
	}
	return string(out)
}

// distSetup writes the tiny folder dataset and model and returns the
// flags of a short run of global batch 8 without augmentation noise.
func distSetup(t *testing.T) (dir string, flags []string) {
	needDevice(t)
	if _, err := mpitest.Mpirun(); err != nil {
		t.Skip(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir = t.TempDir()
	writeFolderData(t, dir, 32)
	cfg := tinyConfigFile(t, dir)
	return dir, []string{"--config", cfg, "--data", "folder", "--data-dir", dir, "--size", "8",
		"--epochs", "2", "--batch", "8", "--lr", "0.2", "--warmup", "0.5", "--runs", filepath.Join(dir, "runs"), "--quiet"}
}

// TestDistributedMatchesSingle: 3 steps on 2 ranks give the parameters of
// 3 steps in one process (to float32 summation noise: each rank averages
// its half, the halves are added), bit-identically twice; 2 ranks with 2
// accumulated micro-batches each give the same; and a checkpoint of 2
// ranks resumes in one process and one of one process on 2 ranks, to the
// same state.
func TestDistributedMatchesSingle(t *testing.T) {
	dir, flags := distSetup(t)
	runs := filepath.Join(dir, "runs")
	ck := func(name string, step int) string {
		return filepath.Join(runs, name, fmt.Sprintf("ckpt-%012d.safetensors", step))
	}
	three := append(flags, "--max-steps", "3")
	trainRanks(t, 1, append(three, "--run", "one")...)
	out := trainRanks(t, 2, append(three, "--run", "two-a")...)
	if strings.Count(out, "final test accuracy") != 1 {
		t.Errorf("want one rank (0) to report:\n%s", out)
	}
	trainRanks(t, 2, append(three, "--run", "two-b")...)
	accum := append(slicesWithout(three, "--batch", "8"), "--batch", "4", "--accum-steps", "2", "--run", "two-accum")
	trainRanks(t, 2, accum...)

	checkClose(t, "1 rank vs 2 ranks", ck("one", 3), ck("two-a", 3), 1e-5)
	checkClose(t, "1 rank vs 2 ranks x 2 micro-batches", ck("one", 3), ck("two-accum", 3), 1e-5)
	checkClose(t, "2 ranks, twice", ck("two-a", 3), ck("two-b", 3), 0)
	for _, name := range []string{"one", "two-accum"} {
		if _, err := os.Stat(filepath.Join(runs, name)); err != nil {
			t.Fatal(err)
		}
	}
	ma, _ := os.ReadFile(filepath.Join(runs, "two-a", train.MetricsFile))
	mb, _ := os.ReadFile(filepath.Join(runs, "two-b", train.MetricsFile))
	if lossLine(ma) != lossLine(mb) || lossLine(ma) == "" {
		t.Errorf("two runs on 2 ranks log other losses:\n%s\n%s", ma, mb)
	}

	// Resume across rank counts: 2 ranks' checkpoint alone, one
	// process's on 2 ranks, both to step 6.
	trainRanks(t, 1, "--resume", filepath.Join(runs, "two-a"), "--max-steps", "6", "--quiet")
	trainRanks(t, 2, "--resume", filepath.Join(runs, "one"), "--max-steps", "6", "--quiet")
	checkClose(t, "2 ranks then 1 vs 1 rank then 2", ck("two-a", 6), ck("one", 6), 1e-5)
}

// lossLine is the train_loss fields of a metrics file.
func lossLine(metrics []byte) string {
	var s []string
	for _, line := range strings.Split(string(metrics), "\n") {
		if i := strings.Index(line, `"train_loss":`); i >= 0 {
			s = append(s, strings.SplitN(line[i:], ",", 2)[0])
		}
	}
	return strings.Join(s, " ")
}

func slicesWithout(args []string, flag, value string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag && i+1 < len(args) && args[i+1] == value {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// checkClose compares two checkpoints' parameters, momentum and EMA:
// each tensor's difference norm within tol of its norm (tol 0: bit for
// bit).
func checkClose(t *testing.T, what, pa, pb string, tol float64) {
	t.Helper()
	a, err := train.LoadCheckpoint(pa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := train.LoadCheckpoint(pb)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for kind, pair := range map[string][2]map[string]train.Tensor{"param": {a.Params, b.Params}, "momentum": {a.Momentum, b.Momentum}, "ema": {a.EMA, b.EMA}} {
		for name, ta := range pair[0] {
			tb, ok := pair[1][name]
			if !ok || len(tb.Data) != len(ta.Data) {
				t.Fatalf("%s: %s %s missing or mis-shaped in %s", what, kind, name, pb)
			}
			var d, n float64
			for i, v := range ta.Data {
				if tol == 0 && math.Float32bits(v) != math.Float32bits(tb.Data[i]) {
					t.Fatalf("%s: %s %s[%d] = %v and %v, want bit-identical", what, kind, name, i, v, tb.Data[i])
				}
				d += math.Pow(float64(v)-float64(tb.Data[i]), 2)
				n += float64(v) * float64(v)
			}
			r := math.Sqrt(d / math.Max(n, 1e-30))
			if r > tol && math.Sqrt(d) > 1e-12 {
				t.Errorf("%s: %s %s differs by %.3g relative, want <= %g", what, kind, name, r, tol)
			}
			worst = max(worst, r)
		}
	}
	t.Logf("%s: worst relative difference %.3g", what, worst)
}

// TestDistributedRanksDisagree: ranks given other flags or other data
// fail before any step, naming the rank and what differs.
func TestDistributedRanksDisagree(t *testing.T) {
	dir, flags := distSetup(t)
	other := filepath.Join(dir, "other")
	writeClassImages(t, other, []string{"bottom", "top"}, 32, func(ci, i, x, y int) uint8 { return uint8(ci*100 + x + y + i) })
	for _, c := range []struct {
		rank1 []string
		want  string
	}{
		{append(slicesWithout(flags, "--lr", "0.2"), "--lr", "0.3"), "rank 1 differs from rank 0 in the configuration"},
		{append(slicesWithout(flags, "--data-dir", dir), "--data-dir", other), "the training data, the test data"}, // and the normalisation taken from them
	} {
		args := append([]string{"train"}, flags...)
		rank1 := append([]string{"train"}, c.rank1...)
		out, err := rankCommand(t, 2, append(args, "--run", "x"), append(rank1, "--run", "x")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("ranks with %v: error %v, output lacks %q:\n%s", c.rank1, err, c.want, out)
		}
		if strings.Contains(string(out), "epoch 1") {
			t.Errorf("a step ran:\n%s", out)
		}
	}
}

// longRun starts a long run on 2 ranks and returns when it has written
// its first checkpoint: the command's output, the channel its end is
// sent on, the run directory and the pid of rank 1.
func longRun(t *testing.T) (out *bytes.Buffer, done chan error, runDir string, rank1 int) {
	dir, flags := distSetup(t)
	runDir = filepath.Join(dir, "runs", "long")
	mark := fmt.Sprintf("NFVK_TEST_MARK=%d", time.Now().UnixNano())
	cmd := rankCommand(t, 2, append([]string{"train"}, append(slicesWithout(flags, "--epochs", "2"), "--epochs", "1000", "--run", "long")...), nil)
	cmd.Env = append(cmd.Env, mark)
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(runDir, "ckpt-*.safetensors")); len(m) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the run ended before its first checkpoint: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 5 minutes:\n%s", out.String())
		}
	}
	return out, done, runDir, findRank(t, mark, 1)
}

// TestDistributedRankDies: killing rank 1 after the first checkpoint
// ends the job within 30 s with a message naming rank 1, and the last
// checkpoint resumes in one process.
func TestDistributedRankDies(t *testing.T) {
	out, done, runDir, pid := longRun(t)
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		took := time.Since(killed)
		t.Logf("job ended %v after rank 1 was killed: %v", took.Round(time.Millisecond), err)
		if err == nil {
			t.Error("the job succeeded with a rank killed")
		}
		named := false
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "rank 1") {
				t.Log(line)
				named = true
			}
		}
		if !named {
			t.Errorf("the output does not name rank 1:\n%s", out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the job still runs 30 s after rank 1 was killed:\n%s", out.String())
	}
	// mpirun may end before Open MPI has stopped rank 0, which holds the
	// run's lock (and may still save a checkpoint) until it exits: wait
	// for it, as a user would.
	waitRunFree(t, runDir, time.Minute)
	last, err := train.LatestCheckpoint(runDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := train.LoadCheckpoint(last)
	if err != nil {
		t.Fatal(err)
	}
	trainRanks(t, 1, "--resume", last, "--max-steps", fmt.Sprint(c.Step+2), "--quiet")
}

// waitRunFree waits until no process holds the lock of run directory dir.
func waitRunFree(t *testing.T, dir string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		l, err := train.LockRun(dir)
		if err == nil {
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !errors.Is(err, train.ErrRunLocked) || time.Now().After(deadline) {
			t.Fatalf("run %s still locked after %v: %v", dir, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDistributedInterrupt: SIGINT to one rank (Ctrl-C) stops every rank
// after the same step, and rank 0 saves a checkpoint there.
func TestDistributedInterrupt(t *testing.T) {
	out, done, runDir, pid := longRun(t)
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// A stopped run exits non-zero (schedulers must see it), with
		// every rank ending cleanly rather than aborting.
		if err == nil || strings.Contains(out.String(), "MPI_ABORT") || !strings.Contains(out.String(), "interrupted after step ") {
			t.Fatalf("interrupted job: exit %v, want a non-zero exit with the interruption reported and no abort:\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the job still runs 2 minutes after SIGINT to rank 1:\n%s", out.String())
	}
	var step int64
	for _, line := range strings.Split(out.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "interrupted after step "); ok {
			fmt.Sscanf(rest, "%d", &step)
		}
	}
	last, err := train.LatestCheckpoint(runDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := train.LoadCheckpoint(last)
	if err != nil {
		t.Fatal(err)
	}
	if step == 0 || c.Step != step {
		t.Fatalf("rank 0 reports an interruption after step %d, the last checkpoint is of step %d:\n%s", step, c.Step, out.String())
	}
}

// findRank returns the pid of the rank of the job whose environment
// holds mark.
func findRank(t *testing.T, mark string, rank int) int {
	t.Helper()
	want := fmt.Sprintf("OMPI_COMM_WORLD_RANK=%d", rank)
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		vars := strings.Split(string(env), "\x00")
		has := func(v string) bool {
			for _, e := range vars {
				if e == v {
					return true
				}
			}
			return false
		}
		if has(mark) && has(want) {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			return pid
		}
	}
	t.Fatalf("no process of rank %d found", rank)
	return 0
}
