package atomicfile

import (
	"errors"
	"io"
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

// TestWriteFillFails: a writer that fails part-way leaves the old file
// as it was, its permission bits kept by a later replacement, and no
// temporary file.
func TestWriteFillFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.bin")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		if _, err := w.Write([]byte("partial")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the writer's", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want %q", b, "old")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries, want 1 (a temporary file was left)", len(entries))
	}
	if err := Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replacement, want the old 0600", st.Mode().Perm())
	}
}
