package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritersRefuseOverwrite: forward and bench never write over an
// input, and over an existing file only with --force; the refusal comes
// before any work, and the file is left as it was.
func TestWritersRefuseOverwrite(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, name := range []string{"weights", "input", "config", "old"} {
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	forward := func(out string, extra ...string) []string {
		return append([]string{"forward", "--config", files["config"], "--weights", files["weights"], "--input", files["input"], "--out", out}, extra...)
	}
	cases := []struct {
		args []string
		want string
	}{
		{forward(files["weights"]), "an input of this command"},
		{forward(files["input"], "--force"), "an input of this command"},
		{forward(files["config"], "--force"), "an input of this command"},
		{forward(files["old"]), "exists; pass --force"},
		{[]string{"bench", "--quick", "--filter", "^Dropout$", "--json", files["old"]}, "exists; pass --force"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := run(context.Background(), c.args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	for name, p := range files {
		if b, _ := os.ReadFile(p); string(b) != name {
			t.Errorf("%s was changed to %q", p, b)
		}
	}
}
