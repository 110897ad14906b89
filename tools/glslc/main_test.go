package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedSPIRVIsFresh fails when a committed .spv does not match a
// fresh compile of its source (someone edited a shader and did not run
// `make shaders`), or when a source has no .spv.
func TestCommittedSPIRVIsFresh(t *testing.T) {
	for _, tool := range []string{"glslc", "spirv-val"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it): cannot recompile shaders to compare", tool)
		}
	}
	dir := filepath.Join("..", "..", "shaders")
	srcs, err := sources(dir)
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no shader sources in %s: %v", dir, err)
	}
	for _, src := range srcs {
		if _, err := os.Stat(strings.TrimSuffix(src, ".comp") + ".spv"); err != nil {
			t.Errorf("%s has no committed .spv: run make shaders", src)
		}
	}
	stale, err := build(dir, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		t.Errorf("%s: committed SPIR-V is stale: run make shaders", s)
	}
}

// TestSPIRVFilesHaveSources catches a .spv left behind by a deleted source.
func TestSPIRVFilesHaveSources(t *testing.T) {
	spvs, _ := filepath.Glob(filepath.Join("..", "..", "shaders", "*.spv"))
	for _, spv := range spvs {
		if _, err := os.Stat(strings.TrimSuffix(spv, ".spv") + ".comp"); err != nil {
			t.Errorf("%s has no source", spv)
		}
	}
}
