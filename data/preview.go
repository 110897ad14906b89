package data

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
)

// BatchGrid draws a batch as the model sees it, for checking a
// pipeline by eye: the images in rows of cols tiles with a 2-pixel gap,
// un-normalised with mean and std (nil: the values are [0, 1]
// intensities). One-channel images are grey; three are RGB.
func BatchGrid(b *Batch, mean, std []float32, cols int) (*image.RGBA, error) {
	if b.N == 0 || (b.C != 1 && b.C != 3) {
		return nil, fmt.Errorf("data: batch grid: %d images of %d channels: want some of 1 or 3", b.N, b.C)
	}
	if (mean == nil) != (std == nil) || (mean != nil && (len(mean) != b.C || len(std) != b.C)) {
		return nil, fmt.Errorf("data: batch grid: %d means and %d stds for %d channels", len(mean), len(std), b.C)
	}
	cols = max(1, min(cols, b.N))
	rows := (b.N + cols - 1) / cols
	const gap = 2
	m := image.NewRGBA(image.Rect(0, 0, cols*(b.W+gap)-gap, rows*(b.H+gap)-gap))
	hw := b.H * b.W
	for i := range b.N {
		x0, y0 := (i%cols)*(b.W+gap), (i/cols)*(b.H+gap)
		img := b.Images[i*b.C*hw : (i+1)*b.C*hw]
		for y := range b.H {
			for x := range b.W {
				o := m.PixOffset(x0+x, y0+y)
				for c := range 3 {
					ch := min(c, b.C-1)
					v := img[ch*hw+y*b.W+x]
					if mean != nil {
						v = v*std[ch] + mean[ch]
					}
					m.Pix[o+c] = clamp8(v * 255)
				}
				m.Pix[o+3] = 255
			}
		}
	}
	return m, nil
}

// WritePreview writes BatchGrid's picture of b as a PNG file, atomically.
func WritePreview(path string, b *Batch, mean, std []float32, cols int) error {
	m, err := BatchGrid(b, mean, std, cols)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, func(w *bufio.Writer) error { return png.Encode(w, m) }); err != nil {
		return fmt.Errorf("data: preview %s: %w", path, err)
	}
	return nil
}
