package train

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleMetrics() []EpochMetrics {
	return []EpochMetrics{
		{Epoch: 1, Step: 468, TrainLoss: 0.9123, TestAcc: 0.7612, ImagesPerS: 1234.5, ElapsedS: 48.25,
			TrainAcc: 0.7, TestLoss: 0.66, LR: 0.1, PeakDeviceMiB: 512.5, PeakHostMiB: 300},
		{Epoch: 2, Step: 936, TrainLoss: 0.5, TestAcc: 0.83, ImagesPerS: 1300, ElapsedS: 95},
		{Epoch: 3, Step: 1404, TrainLoss: 0.41, TestAcc: 1, ImagesPerS: 1290, ElapsedS: 141.5, LR: 1e-9},
	}
}

// equalMetrics compares with NaN equal to NaN.
func equalMetrics(a, b []EpochMetrics) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if math.IsNaN(x.TrainLoss) && math.IsNaN(y.TrainLoss) {
			x.TrainLoss, y.TrainLoss = 0, 0
		}
		if x != y {
			return false
		}
	}
	return true
}

func TestMetricsRoundTrip(t *testing.T) {
	want := sampleMetrics()
	want = append(want,
		EpochMetrics{Epoch: 4, Step: 1872, TrainLoss: math.NaN(), TestAcc: 0.1, ImagesPerS: 1200, ElapsedS: 190},
		EpochMetrics{Epoch: 5, Step: 2340, TrainLoss: math.Inf(1), TestLoss: math.Inf(-1), TestAcc: 0, ImagesPerS: 0, ElapsedS: 240})
	path := filepath.Join(t.TempDir(), MetricsFile)
	w, err := CreateMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range want {
		if err := w.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if !equalMetrics(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d epochs", len(lines), len(want))
	}
	// The line format other tools read: required keys always, optional ones
	// only when measured, non-finite values as strings.
	for _, s := range []string{`"epoch":1,`, `"step":468`, `"train_loss":0.9123`, `"test_acc":0.7612`,
		`"images_per_s":1234.5`, `"elapsed_s":48.25`, `"train_acc":0.7`, `"lr":0.1`, `"peak_device_MiB":512.5`} {
		if !strings.Contains(lines[0], s) {
			t.Errorf("line 1 %s lacks %s", lines[0], s)
		}
	}
	if strings.Contains(lines[1], "train_acc") || strings.Contains(lines[1], "lr") {
		t.Errorf("line 2 %s has unmeasured optional fields", lines[1])
	}
	if !strings.Contains(lines[3], `"train_loss":"NaN"`) || !strings.Contains(lines[4], `"test_loss":"-Inf"`) {
		t.Errorf("non-finite losses written as\n%s\n%s", lines[3], lines[4])
	}
}

func TestReadMetricsErrors(t *testing.T) {
	good := `{"epoch":1,"step":10,"train_loss":1.5,"test_acc":0.5,"images_per_s":100,"elapsed_s":3}`
	good2 := `{"epoch":2,"step":20,"train_loss":1.2,"test_acc":0.6,"images_per_s":100,"elapsed_s":6}`
	tests := []struct {
		name    string
		content string
		epochs  int    // lines read, when no error
		want    string // in the error
	}{
		{"empty file", "", 0, ""},
		{"two lines", good + "\n" + good2 + "\n", 2, ""},
		{"torn last line", good + "\n" + good2[:30], 1, ""},
		{"torn after one byte", good + "\n{", 1, ""},
		{"last line missing only its newline", good + "\n" + good2, 2, ""},
		{"bad JSON in the middle", good + "\n{\"epoch\":2,\n" + good2 + "\n", 0, "line 2"},
		{"bad last line with its newline", good + "\n" + good2[:30] + "\n", 0, "line 2"},
		{"empty line", good + "\n\n" + good2 + "\n", 0, "line 2"},
		{"unknown field", strings.Replace(good, `"step"`, `"stop":1,"step"`, 1) + "\n", 0, `line 1: json: unknown field "stop"`},
		{"missing field", strings.Replace(good, `"test_acc":0.5,`, "", 1) + "\n", 0, `line 1: field "test_acc" is missing`},
		{"accuracy in percent", strings.Replace(good, `"test_acc":0.5`, `"test_acc":50`, 1) + "\n", 0, "line 1: test_acc 50 outside [0, 1]"},
		{"NaN accuracy", strings.Replace(good, `"test_acc":0.5`, `"test_acc":"NaN"`, 1) + "\n", 0, "line 1: test_acc NaN"},
		{"string where a number goes", strings.Replace(good, `"images_per_s":100`, `"images_per_s":"fast"`, 1) + "\n", 0, "line 1"},
		{"epoch 0", strings.Replace(good, `"epoch":1`, `"epoch":0`, 1) + "\n", 0, "line 1: epoch 0"},
		{"epochs not increasing", good + "\n" + good + "\n", 0, "line 2: epoch 1 after epoch 1"},
		{"negative elapsed", strings.Replace(good, `"elapsed_s":3`, `"elapsed_s":-3`, 1) + "\n", 0, "line 1: elapsed_s"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			ms, err := ReadMetrics(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) != tc.epochs {
					t.Errorf("read %d epochs, want %d", len(ms), tc.epochs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	if _, err := ReadMetrics(filepath.Join(dir, "none.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestResumeMetrics(t *testing.T) {
	ms := sampleMetrics()
	line := func(m EpochMetrics) string {
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	all := line(ms[0]) + "\n" + line(ms[1]) + "\n" + line(ms[2]) + "\n"
	tests := []struct {
		name    string
		content string // "" for no file
		epochs  int    // Checkpoint.Epoch resumed from
		kept    int
	}{
		{"no file yet", "", 0, 0},
		{"all kept", all, 3, 3},
		{"later epochs dropped", all, 1, 1},
		{"torn tail dropped", all + `{"epoch":4,"st`, 3, 3},
		{"missing newline restored", strings.TrimSuffix(all, "\n"), 3, 3},
		{"nothing kept", all, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, MetricsFile)
			if tc.content != "" {
				os.WriteFile(path, []byte(tc.content), 0o644)
			}
			w, kept, err := ResumeMetrics(path, tc.epochs)
			if err != nil {
				t.Fatal(err)
			}
			if !equalMetrics(kept, ms[:tc.kept]) {
				t.Errorf("kept %+v, want the first %d epochs", kept, tc.kept)
			}
			next := EpochMetrics{Epoch: tc.kept + 1, Step: 99999, TrainLoss: 0.3, TestAcc: 0.9, ImagesPerS: 1, ElapsedS: 999}
			if err := w.Append(next); err != nil {
				t.Fatal(err)
			}
			if err := w.Append(next); err == nil {
				t.Error("appended the same epoch twice")
			}
			w.Close()
			got, err := ReadMetrics(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := append(ms[:tc.kept:tc.kept], next); !equalMetrics(got, want) {
				t.Errorf("after resume and append: %+v, want %+v", got, want)
			}
			// The rewrite left no temporary file.
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d files in the run directory, want 1", len(entries))
			}
		})
	}
}

func TestMetricsWriterRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFile)
	w, err := CreateMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateMetrics(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateMetrics: %v, want fs.ErrExist", err)
	}
	ok := EpochMetrics{Epoch: 2, Step: 1, TrainLoss: 1, TestAcc: 0.5, ImagesPerS: 1, ElapsedS: 1}
	tests := []struct {
		name string
		m    EpochMetrics
		want string
	}{
		{"epoch 0", EpochMetrics{TestAcc: 0.5}, "epoch 0"},
		{"percent accuracy", func() EpochMetrics { m := ok; m.TestAcc = 88; return m }(), "test_acc 88"},
		{"NaN throughput", func() EpochMetrics { m := ok; m.ImagesPerS = math.NaN(); return m }(), "images_per_s NaN"},
		{"negative step", func() EpochMetrics { m := ok; m.Step = -1; return m }(), "step -1"},
	}
	for _, tc := range tests {
		if err := w.Append(tc.m); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", tc.name, err, path, tc.want)
		}
	}
	if err := w.Append(ok); err != nil {
		t.Fatal(err)
	}
	old := ok
	old.Epoch = 1
	if err := w.Append(old); err == nil {
		t.Error("epoch 1 accepted after epoch 2")
	}
	w.Close()
	if err := w.Append(EpochMetrics{Epoch: 3}); err == nil {
		t.Error("Append after Close accepted")
	}
	if got, err := ReadMetrics(path); err != nil || len(got) != 1 {
		t.Errorf("file holds %v, %v; want the one valid line", got, err)
	}
}

func TestSummarize(t *testing.T) {
	ms := sampleMetrics()
	ms[2].TestAcc = 0.8
	got := Summarize(ms)
	want := Summary{Epochs: 3, TrainLoss: 0.41, TestAcc: 0.8, BestTestAcc: 0.83, BestEpoch: 2, ElapsedS: 141.5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v", got)
	}
}
