package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// divergentLR makes the tiny model's loss non-finite within a few steps.
const divergentLR = 1e30

// TestDivergenceInFirstEpochLeavesNoRun: a run that diverges before its
// first checkpoint says at which step and removes its directory.
func TestDivergenceInFirstEpochLeavesNoRun(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(64, 1), blobs(16, 2), 1, 16)
	o.Recipe.LR, o.Recipe.WarmupEpochs = divergentLR, 0
	res, err := Train(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "diverged at step") || !strings.Contains(err.Error(), "run directory is removed") {
		t.Fatalf("err %v, want a divergence naming its step and the removal", err)
	}
	if res.Dir != "" {
		t.Errorf("Result.Dir %q for a removed run", res.Dir)
	}
	if _, err := os.Stat(filepath.Join(o.RunsDir, o.RunName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory left behind: %v", err)
	}
}

// TestDivergenceKeepsLastFiniteCheckpoint resumes a run with its learning
// rate raised (edited into the checkpoint) until it diverges: the error
// names the step and the kept checkpoint, which is the last finite one.
func TestDivergenceKeepsLastFiniteCheckpoint(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(64, 1), blobs(16, 2), 3, 16) // 4 steps per epoch
	res, ck := trainedFor(t, o, 4)
	var rs map[string]any
	if err := json.Unmarshal(ck.Run, &rs); err != nil {
		t.Fatal(err)
	}
	rs["recipe"].(map[string]any)["lr"] = divergentLR
	var err error
	if ck.Run, err = json.Marshal(rs); err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(res.Checkpoint, ck); err != nil {
		t.Fatal(err)
	}
	ro := o
	ro.Resume = res.Dir
	_, err = Train(context.Background(), ro, nil)
	if err == nil || !strings.Contains(err.Error(), "diverged at step") || !strings.Contains(err.Error(), "last finite checkpoint "+res.Checkpoint) {
		t.Fatalf("err %v, want a divergence naming its step and keeping %s", err, res.Checkpoint)
	}
	latest, err := LatestCheckpoint(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(latest)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckFinite(); err != nil {
		t.Errorf("latest checkpoint %s: %v", latest, err)
	}
}

// TestResumeRefusesNonFiniteCheckpoint: a NaN anywhere in the state is
// reported at load with the tensor named, not as a divergence later.
func TestResumeRefusesNonFiniteCheckpoint(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(32, 1), blobs(16, 2), 2, 16)
	res, ck := trainedFor(t, o, 2)
	// The first tensor by name with room for index 1: map order is random
	// and scalar gains hold one element.
	var victim string
	for name, m := range ck.Momentum {
		if len(m.Data) > 1 && (victim == "" || name < victim) {
			victim = name
		}
	}
	if victim == "" {
		t.Fatal("no momentum tensor with two or more elements")
	}
	ck.Momentum[victim].Data[1] = float32(math.Inf(-1))
	if err := SaveCheckpoint(res.Checkpoint, ck); err != nil {
		t.Fatal(err)
	}
	ro := o
	ro.Resume = res.Dir
	_, err := Train(context.Background(), ro, nil)
	if err == nil || !strings.Contains(err.Error(), `momentum tensor "`+victim+`"`) || !strings.Contains(err.Error(), "index 1") {
		t.Fatalf("err %v, want the momentum tensor %q named", err, victim)
	}
}

// trainedFor runs o for steps steps (Options.MaxSteps) and returns the
// result and its checkpoint.
func trainedFor(t *testing.T, o Options, steps int64) (Result, *Checkpoint) {
	t.Helper()
	o.MaxSteps = steps
	res, err := Train(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	return res, ck
}
