package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for image.Decode
	_ "image/png"
	"io"
	"os"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/train"
)

// runPredict is `nfvk predict CHECKPOINT IMAGE...`: the top-k classes of
// each image under a checkpoint's EMA weights.
func runPredict(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		topK   = fs.Int("k", 3, "classes to print per image")
		raw    = fs.Bool("raw", false, "use the raw weights instead of the EMA")
		device = fs.String("device", "", "Vulkan device: index or name substring")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, predictHelp, flagUsage(fs, predictUsage))
			return nil
		}
		return fmt.Errorf("predict: %w\n%s", err, flagUsage(fs, predictUsage))
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("predict: want a checkpoint and at least one image\n%s", flagUsage(fs, predictUsage))
	}
	if *topK < 1 {
		return fmt.Errorf("predict: -k %d: want >= 1", *topK)
	}
	ck, l, rec, err := openCheckpoint(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	c, h, w := ck.Config.InChans, rec.Height, rec.Width
	if c != 1 && c != 3 {
		return fmt.Errorf("predict: checkpoint %s: the model takes %d channels; image files give 1 (gray) or 3 (RGB)", ck.Path, c)
	}
	if h < 1 || w < 1 || len(rec.Mean) != c || len(rec.Std) != c {
		return fmt.Errorf("predict: checkpoint %s: the recipe lacks the image size or the %d-channel normalisation", ck.Path, c)
	}
	files := fs.Args()[1:]
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			return fmt.Errorf("predict: image %s is a directory: predict takes image files (PNG or JPEG); nfvk eval scores a folder dataset", f)
		}
	}
	var x []float32
	if streamed(rec.Data) { // as the run evaluated: resize, centre crop
		h, w = testSize(rec), testSize(rec)
		if x, err = evalImages(files, rec); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	} else {
		x = make([]float32, len(files)*c*h*w)
		for i, f := range files {
			if err := loadImage(f, x[i*c*h*w:(i+1)*c*h*w], c, h, w, rec.Mean, rec.Std); err != nil {
				return fmt.Errorf("predict: %w", err)
			}
		}
	}
	dev, err := openDevice(*device)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	defer closeDevice(dev, &retErr)
	e, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: kernels.New(dev), EvalBatch: len(files), EvalHeight: h, EvalWidth: w})
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	defer e.Close()
	weights := ck.EMA
	if *raw {
		weights = ck.Params
	}
	if err := e.SetParams(tensorMap(weights)); err != nil {
		return fmt.Errorf("predict: checkpoint %s: %w", ck.Path, err)
	}
	probs, err := e.Classify(ctx, x, train.Current)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	for i, f := range files {
		fmt.Fprintf(stdout, "%s:", f)
		for _, j := range train.TopK(probs[i], *topK) {
			name := fmt.Sprint(j)
			if j < len(rec.Classes) {
				name = rec.Classes[j]
			}
			fmt.Fprintf(stdout, " %s %.1f%%", name, 100*probs[i][j])
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

const predictUsage = "usage: nfvk predict [flags] CHECKPOINT IMAGE..."

const predictHelp = `Prints the top-k classes of each PNG or JPEG image under a checkpoint (a
file, or a run directory: its latest). Images are resized to the training
size, converted to gray for 1-channel models (Fashion-MNIST images are
light garments on black) and normalised as in training; for a run on a
streamed folder or shards, they are prepared as its test images were
(resized to the test size plus 32, centre-cropped).

flags:
`

// maxImagePixels bounds what a header may declare before decoding.
const maxImagePixels = 1 << 26

// loadImage decodes path and writes it into dst as data.ImageTensor
// does: resized to w x h, c planes normalised with mean and std.
func loadImage(path string, dst []float32, c, h, w int, mean, std []float32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// The header is checked first so that a small file declaring a huge
	// image is refused before decoding allocates it.
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("image %s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxImagePixels/cfg.Height {
		return fmt.Errorf("image %s: %s declares %dx%d pixels", path, format, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return fmt.Errorf("image %s: %w", path, err)
	}
	if err := data.ImageTensor(img, c, h, w, mean, std, dst); err != nil {
		return fmt.Errorf("image %s: %w", path, err)
	}
	return nil
}
