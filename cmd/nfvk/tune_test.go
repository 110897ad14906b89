package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestTuneCommand: without --force lavapipe keeps its CPU kernels; with
// it the table of the nano step is printed and cached in the user's cache
// directory.
func TestTuneCommand(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("NFVK_TUNE", "")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"tune", "--batch", "2"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "CPU device") {
		t.Skipf("not a CPU device, tuning runs unforced: %s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"tune", "--force", "--batch", "2", "--budget", "3s"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tuning class \"cpu\"", "cache: " + filepath.Join(cache, "nfvk", "tune-"), "\ngemm ", "\nconv backward-filter ", "class: ", " µs", "*"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(cache, "nfvk", "tune-*.json"))
	if len(files) != 1 {
		t.Errorf("cache files %v, want one", files)
	}
	for _, bad := range [][]string{{"tune", "--batch", "0"}, {"tune", "--variant", "f0"}, {"tune", "extra"}} {
		if err := run(context.Background(), bad, &out, &out); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
