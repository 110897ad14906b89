package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataCommands: index prints class counts and fails naming a bad
// file, train refuses that dataset without --skip-bad; preview writes a
// PNG grid of a batch; shards writes tar shards that index reads back.
func TestDataCommands(t *testing.T) {
	dir := t.TempDir()
	writeFolderData(t, dir, 6)
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"data", "index", dir}, &out, &out); err != nil {
		t.Fatalf("index: %v\n%s", err, out.String())
	}
	for _, want := range []string{"12 images in 2 classes", "      6  top", "ready"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("index output lacks %q:\n%s", want, out.String())
		}
	}

	png := filepath.Join(dir, "preview.png")
	out.Reset()
	if err := run(ctx, []string{"data", "preview", "--out", png, "--size", "16", "--n", "6", "--randaugment", "2,9", "--cutmix", "1", dir}, &out, &out); err != nil {
		t.Fatalf("preview: %v\n%s", err, out.String())
	}
	checkPNG(t, png, 6*(16+2)-2, 16)

	shards := filepath.Join(t.TempDir(), "sh")
	out.Reset()
	if err := run(ctx, []string{"data", "shards", "--per-shard", "5", dir, shards}, &out, &out); err != nil {
		t.Fatalf("shards: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"data", "index", shards}, &out, &out); err != nil || !strings.Contains(out.String(), "12 images in 2 classes") {
		t.Fatalf("index of the shards: %v\n%s", err, out.String())
	}

	bad := filepath.Join(dir, "train", "top", "broken.jpg")
	if err := os.WriteFile(bad, []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(ctx, []string{"data", "index", dir}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "--skip-bad") {
		t.Fatalf("index with a bad file: %v, want an error naming %s", err, bad)
	}
	t.Setenv("NFVK_DEVICE", "no-such-device") // refused before any device opens
	err = run(ctx, []string{"train", "--data", "folder", "--data-dir", dir, "--runs", t.TempDir(), "--quiet"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "no-such-device") {
		t.Fatalf("train on a bad file: %v, want an error naming %s before opening a device", err, bad)
	}
	out.Reset()
	err = run(ctx, []string{"train", "--data", "folder", "--data-dir", dir, "--skip-bad", "--runs", t.TempDir()}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "no-such-device") || !strings.Contains(out.String(), "skipping bad sample (--skip-bad): data: "+bad) {
		t.Fatalf("train --skip-bad: %v, output:\n%s\nwant the skip logged, then the device error", err, out.String())
	}
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounds().Dx() != w || m.Bounds().Dy() != h {
		t.Errorf("%s is %v, want %dx%d", path, m.Bounds(), w, h)
	}
}

// TestTrainSizes: named variants on streamed data default to their
// train/test resolutions; --size alone sets both; nano and configs take
// --size (default 32).
func TestTrainSizes(t *testing.T) {
	for _, c := range []struct {
		args       []string
		size, test int
	}{
		{[]string{"--variant", "f0"}, 192, 256},
		{[]string{"--variant", "dm_nfnet_f1"}, 224, 320},
		{[]string{"--variant", "f0", "--size", "56"}, 56, 56},
		{[]string{"--variant", "f0", "--test-size", "300"}, 192, 300},
		{[]string{"--size", "56", "--test-size", "64"}, 56, 64},
		{nil, 32, 32},
	} {
		f, _, err := parseTrainFlags(append([]string{"--data", "folder"}, c.args...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		size, test, err := f.sizes(true)
		if err != nil || size != c.size || test != c.test {
			t.Errorf("%v: sizes %d/%d, %v; want %d/%d", c.args, size, test, err, c.size, c.test)
		}
	}
}
