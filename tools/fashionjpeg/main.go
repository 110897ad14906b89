// Command fashionjpeg writes Fashion-MNIST as a folder of colour JPEGs
// (OUT/train/<class>/*.jpg, OUT/val/<class>/*.jpg), each image upscaled to
// a random side of 64-96 px and tinted with random foreground and
// background colours: a realistic-shaped dataset for the streaming
// pipeline's checks (nfvk train --data folder). Deterministic per seed.
//
//	go run ./tools/fashionjpeg -out /tmp/fmnist-jpeg [-src DIR] [-n 60000]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/image/draw"

	"github.com/nfvk/nfvk/data"
)

func main() {
	src := flag.String("src", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST idx files")
	out := flag.String("out", "", "output folder")
	n := flag.Int("n", 60000, "training images (at most 60000); val gets n/6")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "fashionjpeg: -out is required")
		os.Exit(2)
	}
	for _, sp := range []struct {
		split data.Split
		name  string
		n     int
	}{{data.Train, "train", *n}, {data.Test, "val", *n / 6}} {
		if err := write(*src, *out, sp.split, sp.name, sp.n, *seed); err != nil {
			fmt.Fprintln(os.Stderr, "fashionjpeg:", err)
			os.Exit(1)
		}
	}
}

func write(src, out string, split data.Split, name string, n int, seed uint64) error {
	ds, err := data.LoadFashionMNIST(src, split)
	if err != nil {
		return err
	}
	n = min(n, ds.N)
	for _, c := range ds.Classes {
		if err := os.MkdirAll(filepath.Join(out, name, c), 0o755); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	workers := runtime.NumCPU()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := writeOne(ds, i, filepath.Join(out, name, ds.Classes[ds.Labels[i]], fmt.Sprintf("%05d.jpg", i)), seed); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Printf("%s: %d images in %s\n", name, n, filepath.Join(out, name))
	return nil
}

// writeOne tints sample i and writes it upscaled as a JPEG.
func writeOne(ds *data.Dataset, i int, path string, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	fg := color.RGBA{uint8(128 + r.IntN(128)), uint8(128 + r.IntN(128)), uint8(128 + r.IntN(128)), 255}
	bg := color.RGBA{uint8(r.IntN(96)), uint8(r.IntN(96)), uint8(r.IntN(96)), 255}
	small := image.NewRGBA(image.Rect(0, 0, ds.W, ds.H))
	for p, v := range ds.Image(i) {
		mix := func(a, b uint8) uint8 { return uint8(float32(a)*(1-v) + float32(b)*v + 0.5) }
		small.Pix[4*p], small.Pix[4*p+1], small.Pix[4*p+2], small.Pix[4*p+3] = mix(bg.R, fg.R), mix(bg.G, fg.G), mix(bg.B, fg.B), 255
	}
	w, h := 64+r.IntN(33), 64+r.IntN(33)
	big := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(big, big.Bounds(), small, small.Bounds(), draw.Src, nil)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, big, &jpeg.Options{Quality: 90}); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
