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
		outs, err := outputs(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if _, err := os.Stat(o.spv); err != nil {
				t.Errorf("%s has no committed %s: run make shaders", src, o.spv)
			}
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
	dir := filepath.Join("..", "..", "shaders")
	built, err := allOutputs(dir)
	if err != nil {
		t.Fatal(err)
	}
	spvs, _ := filepath.Glob(filepath.Join(dir, "*.spv"))
	for _, spv := range spvs {
		if _, ok := built[filepath.Clean(spv)]; !ok {
			t.Errorf("%s has no source (no .comp builds it)", spv)
		}
	}
}

// TestBuildRejectsSpecSizedArrays: a shader that sizes an array from a
// specialization constant (which MoltenVK cannot run) fails the build,
// naming the source; the same shader sized by a constant builds.
func TestBuildRejectsSpecSizedArrays(t *testing.T) {
	for _, tool := range []string{"glslc", "spirv-val"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
	const src = `#version 450
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint N = 4;
layout(set = 0, binding = 0) buffer B { float b[]; };
shared float part[SIZE];
void main() {
	float a[PRIV];
	for (uint i = 0u; i < N; i++) a[i] = b[i];
	part[gl_LocalInvocationID.x] = a[N - 1u];
	barrier();
	b[gl_LocalInvocationID.x] = part[0];
}
`
	for _, tc := range []struct {
		shared, private string
		bad             bool
	}{{"gl_WorkGroupSize.x", "8", true}, {"64", "N", true}, {"2 * N", "8", true}, {"64", "8", false}} {
		dir := t.TempDir()
		body := strings.NewReplacer("SIZE", tc.shared, "PRIV", tc.private).Replace(src)
		if err := os.WriteFile(filepath.Join(dir, "k.comp"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := build(dir, false, false)
		switch {
		case tc.bad && (err == nil || !strings.Contains(err.Error(), "k.comp") || !strings.Contains(err.Error(), "specialization")):
			t.Errorf("shared[%s], private[%s]: error %v, want one naming k.comp and the specialization constant", tc.shared, tc.private, err)
		case !tc.bad && err != nil:
			t.Errorf("constant sizes: %v", err)
		}
	}
}
