package train

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritePlot(t *testing.T) {
	long := make([]EpochMetrics, 90)
	for i := range long {
		e := float64(i + 1)
		long[i] = EpochMetrics{Epoch: i + 1, Step: int64(100 * (i + 1)), TrainLoss: 2 / e, TestAcc: 0.9 - 0.5/e,
			ImagesPerS: 1000, ElapsedS: 10 * e, TrainAcc: 0.95 - 0.6/e, TestLoss: 2.2 / e}
	}
	diverged := sampleMetrics()
	diverged[1].TrainLoss = math.NaN()
	diverged[2].TrainLoss = math.Inf(1)
	tests := []struct {
		name string
		ms   []EpochMetrics
	}{
		{"one epoch", sampleMetrics()[:1]},
		{"three epochs", sampleMetrics()},
		{"90 epochs with optional fields", long},
		{"diverged", diverged},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := WritePlot(path, tc.ms); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds(); got != image.Rect(0, 0, 800, 700) {
				t.Errorf("image is %v, want 800x700", got)
			}
			// Both series are drawn: pixels of the test colour appear in the
			// bottom (accuracy) half, and of the train colour in the top
			// (loss) half unless no loss is finite.
			if n := countNear(img, colorTest, img.Bounds().Dy()/2, img.Bounds().Dy()); n < 20 {
				t.Errorf("%d test-coloured pixels in the accuracy panel", n)
			}
			if n := countNear(img, colorTrain, 0, img.Bounds().Dy()/2); n < 20 {
				t.Errorf("%d train-coloured pixels in the loss panel", n)
			}
		})
	}
	if err := WritePlot(filepath.Join(dir, "none.png"), nil); err == nil || !strings.Contains(err.Error(), "none.png") {
		t.Errorf("no metrics: %v, want an error naming the file", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(tests) {
		t.Errorf("%d files written for %d plots", len(entries), len(tests))
	}
}

// countNear counts pixels in rows [y0, y1) within a small distance of c
// (lines are anti-aliased, their centres are exact or nearly).
func countNear(img image.Image, c color.RGBA, y0, y1 int) int {
	n := 0
	b := img.Bounds()
	for y := y0; y < y1; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			d := absDiff(r>>8, uint32(c.R)) + absDiff(g>>8, uint32(c.G)) + absDiff(bl>>8, uint32(c.B))
			if d <= 24 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
