package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// writeFolderData writes a two-class folder dataset of 8x8 PNGs: bright
// top halves ("top") and bright bottom halves ("bottom").
func writeFolderData(t *testing.T, dir string, perClass int) {
	writeClassImages(t, dir, []string{"bottom", "top"}, perClass, func(ci, i, x, y int) uint8 {
		v := uint8((x*31 + y*17 + i*7) % 60)
		if (y < 4) == (ci == 1) {
			v += 180
		}
		return v
	})
}

// writeClassImages writes DIR/{train,test}/<class>/*.png: perClass 8x8
// gray images per class and split, pixel (x, y) of image i of class ci
// being value(ci, i, x, y).
func writeClassImages(t *testing.T, dir string, classes []string, perClass int, value func(ci, i, x, y int) uint8) {
	t.Helper()
	for _, split := range []string{"train", "test"} {
		for ci, class := range classes {
			d := filepath.Join(dir, split, class)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range perClass {
				img := image.NewGray(image.Rect(0, 0, 8, 8))
				for y := range 8 {
					for x := range 8 {
						img.SetGray(x, y, color.Gray{value(ci, i, x, y)})
					}
				}
				var b bytes.Buffer
				if err := png.Encode(&b, img); err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(d, class+string(rune('a'+i%26))+string(rune('a'+i/26))+".png")
				if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// tinyConfigFile writes a small model config for 8x8 RGB images.
func tinyConfigFile(t *testing.T, dir string) string {
	t.Helper()
	c := nfnet.Nano(3, 2)
	c.Name = "cli-test"
	c.StemType, c.StemChs = "3x3", 8
	c.Depths, c.Channels = []int{1}, []int{16}
	c.GroupSize, c.NumFeatures, c.ExtraConv = 8, 0, false
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tiny.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainEvalPredict runs the three commands end to end on a folder
// dataset: train writes a run (metrics, plot, checkpoint), eval scores the
// checkpoint, predict classifies image files.
func TestTrainEvalPredict(t *testing.T) {
	needDevice(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	writeFolderData(t, dir, 32)
	cfg := tinyConfigFile(t, dir)
	runs := filepath.Join(dir, "runs")
	ctx := context.Background()
	var out bytes.Buffer
	err := run(ctx, []string{"train", "--config", cfg, "--data", "folder", "--data-dir", dir, "--size", "8",
		"--epochs", "3", "--batch", "8", "--lr", "0.2", "--warmup", "0.5", "--crop-pad", "0", "--runs", runs, "--run", "t", "--quiet"}, &out, &out)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	if !strings.Contains(out.String(), "final test accuracy") {
		t.Errorf("train output lacks the final accuracy:\n%s", out.String())
	}
	runDir := filepath.Join(runs, "t")
	for _, f := range []string{train.MetricsFile, train.PlotFile} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Error(err)
		}
	}
	// A resume takes the model, recipe, size and run directory from the
	// checkpoint: a flag that would change them is refused by name.
	for _, f := range [][]string{{"--size", "16"}, {"--lr", "0.1"}, {"--runs", dir}, {"--agc-units", "timm"}} {
		err := run(ctx, append([]string{"train", "--resume", runDir, "--data-dir", dir}, f...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), f[0]+" cannot change a resumed run") {
			t.Errorf("resume with %v: error %v, want one refusing %s", f, err, f[0])
		}
	}
	// Resuming the finished run says so and trains nothing.
	out.Reset()
	if err := run(ctx, []string{"train", "--resume", runDir, "--data-dir", dir}, &out, &out); err != nil || !strings.Contains(out.String(), "had already finished") {
		t.Errorf("resume of a finished run: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"eval", runDir}, &out, &out); err != nil {
		t.Fatalf("eval: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "test accuracy") || !strings.Contains(out.String(), "on 64 folder images") {
		t.Errorf("eval output: %s", out.String())
	}
	out.Reset()
	img := filepath.Join(dir, "test", "top", "topaa.png")
	if err := run(ctx, []string{"predict", "-k", "2", runDir, img}, &out, &out); err != nil {
		t.Fatalf("predict: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), img+":") || strings.Count(out.String(), "%") != 2 {
		t.Errorf("predict output: %q", out.String())
	}
	if err := run(ctx, []string{"predict", runDir, dir}, &out, &out); err == nil || !strings.Contains(err.Error(), dir+" is a directory") {
		t.Errorf("predict on a directory: %v", err)
	}
}

// TestEvalRejectsBadCheckpoint: a damaged or missing checkpoint is an
// error naming the file.
func TestEvalRejectsBadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ckpt.safetensors")
	if err := os.WriteFile(bad, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"eval", "predict"} {
		args := []string{cmd, bad}
		if cmd == "predict" {
			args = append(args, "x.png")
		}
		var out bytes.Buffer
		err := run(context.Background(), args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s on a bad checkpoint: error %v, want one naming %s", cmd, err, bad)
		}
	}
}

// TestUsageLines: each command's --help, and its argument errors, print
// that command's own usage line.
func TestUsageLines(t *testing.T) {
	for _, c := range []struct {
		args []string
		help bool
	}{
		{[]string{"train", "--help"}, true},
		{[]string{"eval", "--help"}, true},
		{[]string{"predict", "--help"}, true},
		{[]string{"forward", "--help"}, true},
		{[]string{"train", "--no-such-flag"}, false},
		{[]string{"eval"}, false},
		{[]string{"eval", "--batch", "x", "ck"}, false},
		{[]string{"predict", "ck"}, false},
		{[]string{"forward", "--steps", "x"}, false},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, &out, &out)
		want := "usage: nfvk " + c.args[0]
		got := out.String()
		if !c.help {
			if err == nil {
				t.Errorf("%v: no error", c.args)
				continue
			}
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%v: output %q lacks %q", c.args, got, want)
		}
		for _, other := range []string{"train", "eval", "predict", "forward"} {
			if other != c.args[0] && strings.Contains(got, "usage: nfvk "+other) {
				t.Errorf("%v prints the usage of %s", c.args, other)
			}
		}
	}
}

// TestTrainHelp: --help explains every flag.
func TestTrainHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"train", "--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"-variant", "-config", "-data", "-data-dir", "-epochs", "-batch", "-lr", "-agc", "-device", "-seed", "-resume", "-run"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("train --help does not mention %s", f)
		}
	}
}
