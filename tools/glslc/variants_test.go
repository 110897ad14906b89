package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestOutputs: a source builds its own module and one per variant line,
// with the variant's macros; a variant line without a macro is an error
// naming the file and line.
func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "k.comp")
	if err := os.WriteFile(src, []byte("#version 450\n// nfvk:variant f16 ACT_F16\nvoid main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := outputs(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []output{{spv: filepath.Join(dir, "k.spv")}, {spv: filepath.Join(dir, "k_f16.spv"), defines: []string{"ACT_F16"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputs = %+v, want %+v", got, want)
	}
	bad := filepath.Join(dir, "bad.comp")
	if err := os.WriteFile(bad, []byte("#version 450\n\n// nfvk:variant f16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := outputs(bad); err == nil || !strings.Contains(err.Error(), "bad.comp:3") {
		t.Errorf("variant without a macro: %v", err)
	}
}
