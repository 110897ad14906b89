package kernels

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
)

// withAll returns kernels that use these candidates for every shape (nil
// ones keep the class's choice).
func (k *Kernels) withAll(gemm *GEMMTile, direct, filter *ConvChoice, reduce *ReduceChoice) *Kernels {
	nk := k.WithTable(&TuneTable{})
	nk.tuned.all = &allChoice{gemm: gemm, direct: direct, filter: filter, reduce: reduce}
	return nk
}

// tuneClasses are the tunings of every class on this device: the GPU
// classes (with their lane budget) and the device's own. Classes whose
// candidates are the same run once.
func tuneClasses(d *engine.Device) []Tuning {
	out := []Tuning{TuningFor(d.Info())}
	seen := map[string]bool{}
	for _, vendor := range []uint32{0, 0x10DE, 0x1002, 0x8086} {
		info := d.Info()
		info.Type, info.VendorID = engine.TypeDiscrete, vendor
		t := TuningFor(info)
		key := fmt.Sprintf("%+v %+v", t.GEMM, convTuningFor(t.Class))
		if !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	return out
}

// TestTuneCandidatesConform runs the conformance tables of GEMM, the
// convolutions and the reductions with the candidates the tuner can pick,
// for every tuning class (lavapipe runs the GPU classes' tiles too). The
// reductions run the whole table per candidate. GEMM and the convolutions
// take minutes per tile set on lavapipe, so by default (make test) case i
// of their table gets candidate i+r mod n for one rotation r: every
// candidate runs on a share of the table in one pass. With
// NFVK_TUNE_CONFORM=full (make test-tune-full) every rotation runs, so
// every candidate meets every case, and the convolutions run in both
// storage types.
func TestTuneCandidatesConform(t *testing.T) {
	d, k := testDevice(t)
	full := os.Getenv("NFVK_TUNE_CONFORM") == "full"
	limit := int(d.Info().MaxStorageBufferRange / 4)
	big := convShape(4, 8, 9, 9, 8, 3, 3, 1, 1, [4]int{1, 1, 1, 1}) // enough rows for every split candidate
	for _, tune := range tuneClasses(d) {
		kc := k.WithTuning(tune)
		t.Run(tune.Class, func(t *testing.T) {
			var tiles []GEMMTile
			for _, c := range kc.gemmCandidates() {
				tiles = append(tiles, *c.GEMM)
			}
			for r := range rotations(full, len(tiles)) {
				rotated := append(slices.Clone(tiles[r:]), tiles[:r]...)
				t.Run(fmt.Sprintf("gemm/rotation %d", r), func(t *testing.T) { runGEMMTableTiles(t, d, kc, gemmTable(), rotated, limit) })
			}
			direct, filter := kc.convCandidates(big, convForward), kc.convCandidates(big, convBackwardFilter)
			types := []DType{F32}
			if full {
				types = storageTypes
			}
			for r := range rotations(full, max(len(direct), len(filter))) {
				tab := &TuneTable{}
				for i, c := range convCases {
					for _, e := range []struct {
						pass  string
						cands []TuneCandidate
					}{{"forward", direct}, {"backward-data", direct}, {"backward-filter", filter}} {
						tab.Entries = append(tab.Entries, TuneEntry{Conv: &c.s, Pass: e.pass,
							Candidates: []TuneCandidate{e.cands[(i+1+r)%len(e.cands)]}})
					}
				}
				for _, dt := range types {
					t.Run(fmt.Sprintf("conv/rotation %d/%v", r, dt), func(t *testing.T) { testConv2D(t, d, kc.WithTable(tab), dt) })
				}
			}
			for _, c := range kc.reduceCandidates(ReduceShape{Rows: 64, Cols: 100}) {
				t.Run("reduce "+c.Name, func(t *testing.T) { testReductions(t, d, kc.withAll(nil, nil, nil, c.Reduce)) })
			}
		})
	}
}

// rotations is how many rotations of n candidates a conformance pass
// runs: all of them when full, else one.
func rotations(full bool, n int) int {
	if full {
		return max(n, 1)
	}
	return 1
}

// tuneShapes are small shapes of every kind the tuner takes.
var tuneShapes = Shapes{
	GEMM: []GEMMShape{{M: 33, N: 20, K: 17}, {M: 8, N: 10, K: 48, TransB: true}},
	Conv: []ConvUse{
		{convShape(2, 8, 7, 7, 16, 3, 3, 1, 1, [4]int{1, 1, 1, 1}), "forward"},
		{convShape(2, 8, 7, 7, 16, 3, 3, 1, 1, [4]int{1, 1, 1, 1}), "backward-data"},
		{convShape(2, 8, 7, 7, 16, 3, 3, 1, 1, [4]int{1, 1, 1, 1}), "backward-filter"},
	},
	Reduce: []ReduceShape{{Rows: 1, Cols: 300}, {Rows: 64, Cols: 33}},
}

// TestTuneOnLavapipe tunes (forced) on the shapes above, checks the table,
// caches it next to the pipeline cache, reloads it, and ignores and
// rebuilds a corrupt or foreign cache file with a warning.
func TestTuneOnLavapipe(t *testing.T) {
	dir := t.TempDir()
	d := enginetest.OpenWith(t, engine.Options{PipelineCacheDir: dir})
	k := New(d)
	if k.Tuning().Class == "cpu" {
		if kk, tab, err := k.Tuned(context.Background(), tuneShapes, TuneSetup{}); err != nil || kk != k || tab != nil {
			t.Fatalf("unforced tuning on a CPU device: %v, %v, %v", kk == k, tab, err)
		}
	}
	var progress []TuneProgress
	var warns []string
	setup := TuneSetup{Force: true, TuneOptions: TuneOptions{Budget: 5 * time.Minute, Reps: 2,
		Progress: func(p TuneProgress) { progress = append(progress, p) }}, Warn: func(w string) { warns = append(warns, w) }}
	_, tab, err := k.Tuned(context.Background(), tuneShapes, setup)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tuneShapes.GEMM) + len(tuneShapes.Conv) + len(tuneShapes.Reduce); len(tab.Entries) != n || len(progress) != n+1 {
		t.Fatalf("%d entries, %d progress calls for %d shapes", len(tab.Entries), len(progress), n)
	}
	for _, e := range tab.Entries {
		if e.Chosen < 0 {
			t.Errorf("%s: nothing chosen: %+v", e.Name(), e.Candidates)
			continue
		}
		for _, c := range e.Candidates {
			t.Logf("%s: %s: %.0f µs %s", e.Name(), c.Name, c.Micros, c.Err)
			if c.Err == "" && c.Micros < e.Candidates[e.Chosen].Micros {
				t.Errorf("%s: chose %s, but %s was faster", e.Name(), e.Candidates[e.Chosen].Name, c.Name)
			}
		}
	}
	path := k.TuneCachePath()
	if filepath.Dir(path) != dir || !strings.Contains(filepath.Base(path), KeyOf(d.Info()).PipelineCacheUUID) {
		t.Fatalf("cache %s: not next to the pipeline cache in %s, keyed by the device", path, dir)
	}
	back, err := LoadTuneTable(path, KeyOf(d.Info()))
	if err != nil || !reflect.DeepEqual(back, tab) {
		t.Fatalf("reloaded table differs (%v)", err)
	}
	// A second run takes the cache: nothing is measured.
	progress = nil
	if _, again, err := k.Tuned(context.Background(), tuneShapes, setup); err != nil || len(progress) != 0 || !reflect.DeepEqual(again, tab) {
		t.Fatalf("second run: %v, %d progress calls", err, len(progress))
	}
	foreign := *tab
	foreign.Device.DriverVersion++
	for name, write := range map[string]func() error{
		"corrupt": func() error { return os.WriteFile(path, []byte("{\"Device\": 3"), 0o644) },
		"foreign": func() error { return SaveTuneTable(path, &foreign) },
	} {
		warns = nil
		if err := write(); err != nil {
			t.Fatal(err)
		}
		small := Shapes{Reduce: tuneShapes.Reduce[:1]}
		if _, _, err := k.Tuned(context.Background(), small, setup); err != nil {
			t.Fatalf("%s cache: %v", name, err)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], path) {
			t.Errorf("%s cache: warnings %q, want one naming %s", name, warns, path)
		}
		if re, err := LoadTuneTable(path, KeyOf(d.Info())); err != nil || len(re.Entries) != 1 {
			t.Errorf("%s cache: not rebuilt (%v)", name, err)
		}
	}
}

// TestTuneBudget: a spent budget measures nothing and chooses nothing,
// so the class's choices stay; such entries are measured again later.
func TestTuneBudget(t *testing.T) {
	_, k := testDevice(t)
	tab, err := k.Tune(context.Background(), tuneShapes, TuneOptions{Budget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tab.Entries {
		if e.Chosen != -1 || e.measured() {
			t.Errorf("%s: chosen %d with a spent budget", e.Name(), e.Chosen)
		}
	}
	if m := tab.missing(tuneShapes); len(m.GEMM) != 0 {
		t.Errorf("missing %+v", m)
	}
	kt := k.WithTable(tab)
	if kt.gemmTile(tuneShapes.GEMM[0]) != k.Tuning().GEMM {
		t.Error("an unmeasured entry replaced the class's tile")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Tune(cancelled, tuneShapes, TuneOptions{}); err == nil {
		t.Error("Tune ignored a cancelled context")
	}
}
