package data

import (
	"errors"
	"fmt"
	"image"
	"math"

	"golang.org/x/image/draw"
)

// ImageTensor writes img into dst as a model's input: resized (stretched,
// Catmull-Rom) to width x height, as channels planes (CHW) of intensities
// in [0, 1] — gray (ITU-R BT.601 luma) for 1 channel, RGB for 3 — each
// normalised to (v - mean[c]) / std[c]. It is the conversion
// LoadImageFolder applies to its files (without CenterCrop) and
// `nfvk predict` to its arguments, so an embedding program feeds a model
// exactly what it was trained and evaluated on; mean and std are those
// of the training data (a checkpoint's recipe holds them).
//
// dst must hold channels*height*width values; to fill a batch, pass the
// image's slice of it.
func ImageTensor(img image.Image, channels, height, width int, mean, std []float32, dst []float32) error {
	if img == nil {
		return errors.New("data: image tensor: nil image")
	}
	if channels != 1 && channels != 3 {
		return fmt.Errorf("data: image tensor: %d channels: want 1 (gray) or 3 (RGB)", channels)
	}
	if height < 1 || width < 1 {
		return fmt.Errorf("data: image tensor: size %dx%d: want at least 1x1", width, height)
	}
	if len(mean) != channels || len(std) != channels {
		return fmt.Errorf("data: image tensor: %d means and %d standard deviations for %d channels", len(mean), len(std), channels)
	}
	for c, s := range std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(mean[c])) || math.IsInf(float64(mean[c]), 0) {
			return fmt.Errorf("data: image tensor: channel %d: mean %v, std %v: want finite values and std > 0", c, mean[c], s)
		}
	}
	if n := channels * height * width; len(dst) != n {
		return fmt.Errorf("data: image tensor: dst has %d values, want %dx%dx%d = %d", len(dst), channels, height, width, n)
	}
	src := img.Bounds()
	if src.Empty() {
		return fmt.Errorf("data: image tensor: empty image (bounds %v)", src)
	}
	canvas := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.CatmullRom.Scale(canvas, canvas.Bounds(), img, src, draw.Src, nil)
	rgbaToPlanar(dst, canvas, channels)
	hw := height * width
	for c := range channels {
		m, inv := mean[c], 1/std[c]
		plane := dst[c*hw : (c+1)*hw]
		for i, v := range plane {
			plane[i] = (v - m) * inv
		}
	}
	return nil
}
