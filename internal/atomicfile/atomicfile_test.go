package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	old := filepath.Join(dir, "old.bin")
	for _, p := range []string{in, old} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link.bin")
	if err := os.Symlink("in.bin", link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		out     string
		force   bool
		wantErr string // "" for allowed
	}{
		{filepath.Join(dir, "new.bin"), false, ""},
		{old, false, "exists; pass --force"},
		{old, true, ""},
		{in, true, "an input of this command"},
		{link, true, "an input of this command"}, // the same file by another name
		{dir, true, "is a directory"},
	}
	for _, c := range cases {
		err := CheckTarget("--out", c.out, c.force, in)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("CheckTarget(%s, force %v): %v, want %q", c.out, c.force, err, c.wantErr)
		}
	}
}

// TestWriteFile replaces a file and leaves no temporary file behind; a
// write into a missing directory fails and creates nothing.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("file holds %q, want %q", b, content)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries, want 1 (a temporary file was left)", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
