package train

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot size: 8x7 inches at 100 dpi, 800x700 pixels, readable on a screen
// without scaling.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 7 * vg.Inch
	plotDPI    = 100
)

var (
	colorTrain = color.RGBA{R: 31, G: 119, B: 180, A: 255} // blue
	colorTest  = color.RGBA{R: 214, G: 39, B: 40, A: 255}  // red
)

// WritePlot draws the metrics as a PNG at path (replaced atomically): the
// loss per epoch in the top panel (training, and test when measured), the
// accuracy in percent in the bottom one (test, and training when measured),
// sharing the epoch axis. Epochs whose loss is NaN or infinite (a diverged
// run) are left out of the loss panel and counted in its title.
func WritePlot(path string, ms []EpochMetrics) error {
	png, err := RenderPlot(ms)
	if err != nil {
		return fmt.Errorf("train: plot %s: %w", path, err)
	}
	if err := writeFileAtomic(path, png); err != nil {
		return fmt.Errorf("train: plot %s: %w", path, err)
	}
	return nil
}

// RenderPlot returns the PNG WritePlot writes.
func RenderPlot(ms []EpochMetrics) ([]byte, error) {
	if len(ms) == 0 {
		return nil, errors.New("no epochs to plot")
	}
	var trainLoss, testLoss, trainAcc, testAcc plotter.XYs
	skipped := 0
	for _, m := range ms {
		x := float64(m.Epoch)
		if finite(m.TrainLoss) {
			trainLoss = append(trainLoss, plotter.XY{X: x, Y: m.TrainLoss})
		} else {
			skipped++
		}
		if m.TestLoss != 0 && finite(m.TestLoss) {
			testLoss = append(testLoss, plotter.XY{X: x, Y: m.TestLoss})
		}
		if m.TrainAcc != 0 {
			trainAcc = append(trainAcc, plotter.XY{X: x, Y: 100 * m.TrainAcc})
		}
		testAcc = append(testAcc, plotter.XY{X: x, Y: 100 * m.TestAcc})
	}

	loss := plot.New()
	loss.Title.Text = "Loss"
	if skipped > 0 {
		loss.Title.Text += fmt.Sprintf(" (training loss not finite in %d of %d epochs, not shown)", skipped, len(ms))
	}
	loss.Y.Label.Text = "loss"
	acc := plot.New()
	acc.Title.Text = "Accuracy"
	acc.X.Label.Text = "epoch"
	acc.Y.Label.Text = "top-1 accuracy (%)"
	for _, s := range []struct {
		p     *plot.Plot
		xys   plotter.XYs
		name  string
		color color.Color
	}{
		{loss, trainLoss, "train", colorTrain},
		{loss, testLoss, "test", colorTest},
		{acc, trainAcc, "train", colorTrain},
		{acc, testAcc, "test (EMA)", colorTest},
	} {
		if len(s.xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.p.Title.Text, s.name, err)
		}
		line.Color, points.Color = s.color, s.color
		points.Shape = draw.CircleGlyph{}
		s.p.Add(line, points)
		s.p.Legend.Add(s.name, line, points)
	}
	// Keep the legends out of the curves' way: loss falls to the bottom
	// right, accuracy rises to the top right.
	loss.Legend.Top = true
	for _, p := range []*plot.Plot{loss, acc} {
		p.Add(plotter.NewGrid())
		// Both panels span the same epochs so they line up.
		p.X.Min, p.X.Max = float64(ms[0].Epoch), float64(ms[len(ms)-1].Epoch)
		p.X.Tick.Marker = epochTicks{}
	}

	img := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(12)}
	panels := [][]*plot.Plot{{loss}, {acc}}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		row[0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// epochTicks labels whole epochs only: gonum's default ticker would put
// labels at 2.5 epochs on short runs.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	// The first of 1, 2, 5, 10, 20, 50... giving at most 10 labels.
	step := 1.0
	for i := 0; (hi-lo)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3]
	}
	var ticks []plot.Tick
	for e := math.Ceil(lo/step) * step; e <= hi; e += step {
		ticks = append(ticks, plot.Tick{Value: e, Label: strconv.FormatFloat(e, 'f', -1, 64)})
	}
	return ticks
}
