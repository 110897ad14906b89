package train

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewRun(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs") // created on demand
	now := time.Date(2026, 11, 27, 1, 2, 3, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name, want string // want: directory name, or "error: ..." substring
	}{
		{"", "20261127-000203"}, // UTC
		{"", "20261127-000203-2"},
		{"", "20261127-000203-3"},
		{"fmnist-nano", "fmnist-nano"},
		{"fmnist-nano", "error: already exists"},
		{"v1.2_b128", "v1.2_b128"},
		{"../escape", "error: not starting with '.'"},
		{"x/../../escape", "error: not allowed"},
		{"a/b", "error: not allowed"},
		{".hidden", "error: not starting with '.'"},
		{"..", "error: not starting with '.'"},
		{"sp ace", "error: not allowed"},
		{strings.Repeat("x", 101), "error: 1 to 100"},
	}
	for _, tc := range tests {
		r, err := NewRun(root, tc.name, now)
		if msg, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("NewRun(%q): %v, want an error containing %q", tc.name, err, msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewRun(%q): %v", tc.name, err)
			continue
		}
		if r.Dir != filepath.Join(root, tc.want) {
			t.Errorf("NewRun(%q) = %s, want %s", tc.name, r.Dir, tc.want)
		}
		if st, err := os.Stat(r.Dir); err != nil || !st.IsDir() {
			t.Errorf("%s not created: %v", r.Dir, err)
		}
	}
	r, err := OpenRun(filepath.Join(root, "fmnist-nano"))
	if err != nil {
		t.Fatal(err)
	}
	if r.MetricsPath() != filepath.Join(root, "fmnist-nano", "metrics.jsonl") || r.PlotPath() != filepath.Join(root, "fmnist-nano", "metrics.png") {
		t.Errorf("paths %s %s", r.MetricsPath(), r.PlotPath())
	}
	if _, err := OpenRun(filepath.Join(root, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRun of a missing run: %v", err)
	}
}

func TestLatestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if _, err := LatestCheckpoint(dir); !errors.Is(err, ErrNoCheckpoint) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("empty run: %v, want ErrNoCheckpoint naming %s", err, dir)
	}
	r := &Run{Dir: dir}
	for _, n := range []string{
		filepath.Base(r.CheckpointPath(900)),
		filepath.Base(r.CheckpointPath(1000)),
		filepath.Base(r.CheckpointPath(99)),
		"ckpt-5.safetensors",                    // unpadded, still a step
		"ckpt-best.safetensors",                 // not a step
		"ckpt-+7.safetensors",                   // not ours
		"ckpt-000000002000.safetensors.x",       // not a checkpoint name
		".ckpt-000000009999.safetensors.tmp123", // a write in progress
		"metrics.jsonl",
	} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "ckpt-000000005000.safetensors"), 0o755) // a directory
	all, err := Checkpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64
	for _, c := range all {
		steps = append(steps, c.Step)
	}
	if want := []int64{5, 99, 900, 1000}; !slices.Equal(steps, want) {
		t.Errorf("Checkpoints steps %v, want %v", steps, want)
	}
	latest, err := LatestCheckpoint(dir)
	if err != nil || latest != r.CheckpointPath(1000) {
		t.Errorf("LatestCheckpoint = %s, %v; want %s", latest, err, r.CheckpointPath(1000))
	}
	if _, err := LatestCheckpoint(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestRunSaveCheckpointPrunes(t *testing.T) {
	r := &Run{Dir: t.TempDir()}
	cfg := tinyConfig(t)
	stale := filepath.Join(r.Dir, ".ckpt-000000000050.safetensors.tmp42")
	os.WriteFile(stale, []byte("half a checkpoint"), 0o644)
	for _, step := range []int64{100, 200, 300, 400} {
		path, err := r.SaveCheckpoint(makeCheckpoint(t, cfg, step), 2)
		if err != nil {
			t.Fatal(err)
		}
		if path != r.CheckpointPath(step) {
			t.Errorf("saved to %s, want %s", path, r.CheckpointPath(step))
		}
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file survived: %v", err)
	}
	all, _ := Checkpoints(r.Dir)
	if len(all) != 2 || all[0].Step != 300 || all[1].Step != 400 {
		t.Errorf("kept %+v, want steps 300 and 400", all)
	}
	// Saving an older step (resumed from an earlier checkpoint) never
	// deletes the file just written.
	if _, err := r.SaveCheckpoint(makeCheckpoint(t, cfg, 150), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint(r.CheckpointPath(150)); err != nil {
		t.Errorf("the checkpoint just written was pruned: %v", err)
	}
	if all, _ := Checkpoints(r.Dir); len(all) != 3 {
		t.Errorf("after saving step 150: %d checkpoints, want 150, 300, 400", len(all))
	}
	// keep 0 keeps everything.
	if _, err := r.SaveCheckpoint(makeCheckpoint(t, cfg, 500), 0); err != nil {
		t.Fatal(err)
	}
	if all, _ := Checkpoints(r.Dir); len(all) != 4 {
		t.Errorf("keep 0: %d checkpoints, want 4", len(all))
	}
}
