package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gioui.org/app"
	"gioui.org/gpu/headless"
	"gioui.org/io/system"
	"gioui.org/op"
	"gioui.org/unit"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

var screenshotPath = flag.String("screenshot", "", "also write the test's screenshot to this file (e.g. screenshot.png, the README's)")

// TestMain runs the tests on a private Xvfb server unless $DISPLAY names
// one already.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Unsetenv("WAYLAND_DISPLAY") // the X11 window, on the display below
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("XDG_RUNTIME_DIR") == "" { // Mesa's EGL wants one
		if dir, err := os.MkdirTemp("", "xdg"); err == nil {
			defer os.RemoveAll(dir)
			os.Setenv("XDG_RUNTIME_DIR", dir)
		}
	}
	if os.Getenv("DISPLAY") == "" {
		stop, err := startXvfb()
		if err != nil {
			fmt.Fprintln(os.Stderr, "desktop tests: no X display:", err)
			return 1
		}
		defer stop()
	}
	return m.Run()
}

// startXvfb starts Xvfb on a free display number (it writes the number it
// took to -displayfd) and sets $DISPLAY.
func startXvfb() (stop func(), err error) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		return nil, fmt.Errorf("%w (make deps installs xvfb)", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	// Xvfb logs every display it finds taken before a free one: shown
	// only when it fails.
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("Xvfb reported no display:\n%s", log.Bytes())
		}
		os.Setenv("DISPLAY", ":"+n)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("Xvfb did not start in 20 s:\n%s", log.Bytes())
	}
	return func() {
		cmd.Process.Kill()
		cmd.Wait()
		r.Close()
	}, nil
}

// tinyConfig trains a one-stage Nano for 8x8 gray images for one epoch
// in a few seconds on lavapipe.
func tinyConfig(runs string) Config {
	model := func(inChans, numClasses int) nfnet.Config {
		c := nfnet.Nano(inChans, numClasses)
		c.Name = "nano-tiny"
		c.StemChs = 8
		c.Depths, c.Channels = []int{1}, []int{16}
		c.GroupSize = 8
		c.NumFeatures = 0
		return c
	}
	rec := train.Recipe{Recipe: agc.Recipe{Epochs: 1, LR: 0.2, WarmupEpochs: 0.2, Momentum: 0.9, Nesterov: true,
		WeightDecay: 5e-5, AGCClip: 0.04, EMADecay: 0.9}, Batch: 16, LabelSmoothing: 0.1, CropPad: 1, Seed: 3, DataSeed: 4}
	return Config{Size: 8, Channels: 1, Model: model, Recipe: rec, RunsDir: runs}
}

// writeDataset writes a folder dataset of 8x8 PNGs: "horizontal" images
// have a bright row, "vertical" ones a bright column, on dark noise.
func writeDataset(t *testing.T, dir string, perClass map[string]int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for split, n := range perClass {
		for _, class := range []string{"horizontal", "vertical"} {
			d := filepath.Join(dir, split, class)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				img := image.NewGray(image.Rect(0, 0, 8, 8))
				for j := range img.Pix {
					img.Pix[j] = uint8(r.IntN(60))
				}
				k := 1 + r.IntN(6)
				for j := range 8 {
					if class == "horizontal" {
						img.SetGray(j, k, color.Gray{Y: 230})
					} else {
						img.SetGray(k, j, color.Gray{Y: 230})
					}
				}
				writePNG(t, filepath.Join(d, fmt.Sprintf("%03d.png", i)), img)
			}
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestApp opens the window on the X display, trains one epoch and
// classifies an image through the app's handlers while the window draws,
// then renders the window's last frame with Gio's headless GPU renderer
// and checks the screenshot: the chart has drawn loss and accuracy lines,
// and the prediction is a class of the dataset.
func TestApp(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, map[string]int{"train": 64, "test": 16})

	w := new(app.Window)
	w.Option(app.Title("nfvk test"), app.Size(unit.Dp(900), unit.Dp(700)))
	a := NewApp(w, tinyConfig(filepath.Join(dir, "runs")))
	if len(a.devices) == 0 {
		t.Fatalf("no Vulkan device: %v", a.devErr)
	}
	frames := make(chan struct{}, 1)
	shots := make(chan *image.RGBA)
	var wantShot bool // the window's goroutine's alone
	a.afterFrame = func(ops *op.Ops, e app.FrameEvent) {
		select {
		case frames <- struct{}{}:
		default:
		}
		if !wantShot {
			return
		}
		wantShot = false
		img, err := screenshot(ops, e.Size)
		if err != nil {
			t.Errorf("headless render: %v", err)
		}
		shots <- img
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run() }()
	t.Cleanup(func() {
		w.Perform(system.ActionClose)
		w.Invalidate() // wakes the X11 event loop, which flushes the close request
		select {
		case <-runErr:
		case <-time.After(30 * time.Second):
			t.Error("the window did not close in 30 s")
		}
	})
	waitFrame := func(what string) {
		t.Helper()
		select {
		case <-frames:
		case err := <-runErr:
			t.Fatalf("%s: the window closed: %v", what, err)
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: no frame drawn in 60 s", what)
		}
	}
	waitFrame("window up")

	// What a user types and clicks, on the window's goroutine.
	clicked := make(chan [2]error)
	a.Do(func() {
		a.dataDir.SetText(dir)
		first := a.TrainClicked()
		clicked <- [2]error{first, a.TrainClicked()}
	})
	if errs := <-clicked; errs[0] != nil || errs[1] == nil {
		t.Fatalf("Train: %v; Train again while running: %v, want an error", errs[0], errs[1])
	}
	waitFrame("while training")
	a.Wait()
	st := a.State()
	if st.Err != nil {
		t.Fatalf("training: %v", st.Err)
	}
	const steps = 2 * 64 / 16
	if len(st.Loss) != steps || len(st.Acc) == 0 || st.Steps != steps {
		t.Fatalf("chart data: %d losses, %d accuracies, %d steps; want %d steps", len(st.Loss), len(st.Acc), st.Steps, steps)
	}
	t.Logf("status: %s", st.Status)
	a.mu.Lock()
	dev := a.model.dev
	a.mu.Unlock()
	t.Logf("Vulkan validation: %v", dev.ValidationEnabled())
	if msgs := dev.ValidationMessages(); len(msgs) > 0 { // with NFVK_VALIDATE=1 (make desktop)
		t.Errorf("%d Vulkan validation messages, the first: %v", len(msgs), msgs[0])
	}

	img := filepath.Join(dir, "test", "vertical", "000.png")
	path := make(chan string)
	a.Do(func() {
		a.imagePath.SetText(img)
		path <- a.imagePath.Text()
	})
	pred, err := a.Classify(t.Context(), <-path) // ClassifyClicked's call, waited for
	if err != nil {
		t.Fatal(err)
	}
	st = a.State()
	if st.Prediction != pred || !(strings.HasPrefix(pred, "horizontal (") || strings.HasPrefix(pred, "vertical (")) {
		t.Fatalf("prediction %q, shown %q: want a class of the dataset", pred, st.Prediction)
	}
	t.Logf("prediction of %s: %s", img, pred)

	a.Do(func() { wantShot = true }) // the next frame, drawn after the prediction
	var shot *image.RGBA
	select {
	case shot = <-shots:
	case <-time.After(60 * time.Second):
		t.Fatal("no screenshot in 60 s")
	}
	if shot == nil {
		t.FailNow()
	}
	loss, acc := count(shot, lossColor), count(shot, accColor)
	t.Logf("screenshot %v: %d loss pixels, %d accuracy pixels", shot.Bounds().Size(), loss, acc)
	if loss < 50 || acc < 50 {
		t.Errorf("the chart drew %d loss and %d accuracy pixels, want lines", loss, acc)
	}
	writePNG(t, filepath.Join(t.TempDir(), "screenshot.png"), shot)
	if *screenshotPath != "" {
		writePNG(t, *screenshotPath, shot)
	}

	// A long run, stopped by the Stop button's handler after its first
	// step, keeps a model that classifies.
	a.cfg.Recipe.Epochs = 1000
	a.Do(func() {
		clicked <- [2]error{a.TrainClicked(), nil}
	})
	if errs := <-clicked; errs[0] != nil {
		t.Fatal(errs[0])
	}
	for deadline := time.Now().Add(60 * time.Second); len(a.State().Loss) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no step in 60 s")
		}
	}
	a.Do(a.Stop)
	a.Wait()
	if st := a.State(); st.Err != nil || !strings.HasPrefix(st.Status, "stopped after") || int64(len(st.Loss)) >= st.Steps {
		t.Fatalf("stopped run: error %v, status %q, %d of %d steps", st.Err, st.Status, len(st.Loss), st.Steps)
	}
	if _, err := a.Classify(t.Context(), img); err != nil {
		t.Fatalf("classify after a stopped run: %v", err)
	}
}

// screenshot renders a frame's operations with Gio's headless GPU
// renderer.
func screenshot(ops *op.Ops, size image.Point) (*image.RGBA, error) {
	hw, err := headless.NewWindow(size.X, size.Y)
	if err != nil {
		return nil, err
	}
	defer hw.Release()
	if err := hw.Frame(ops); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rectangle{Max: size})
	if err := hw.Screenshot(img); err != nil {
		return nil, err
	}
	return img, nil
}

// count counts the pixels of colour c (within a small tolerance, for
// antialiasing).
func count(img *image.RGBA, c color.NRGBA) int {
	n := 0
	near := func(a, b uint8) bool { return int(a)+8 >= int(b) && int(b)+8 >= int(a) }
	for i := 0; i+3 < len(img.Pix); i += 4 {
		if near(img.Pix[i], c.R) && near(img.Pix[i+1], c.G) && near(img.Pix[i+2], c.B) {
			n++
		}
	}
	return n
}
