package data

import "math"

// CropRect is a region of a source image in its pixel coordinates
// (continuous: pixel x covers [x, x+1)), possibly fractional.
type CropRect struct {
	X, Y, W, H float64
}

// Random-resized-crop bounds: the Inception crop of DeepMind's and timm's
// training pipelines (torchvision's RandomResizedCrop defaults).
const (
	rrcMinScale = 0.08
	rrcMaxScale = 1.0
	rrcTries    = 10
)

var rrcLogRatio = [2]float64{math.Log(3.0 / 4), math.Log(4.0 / 3)}

// randomResizedCrop picks an Inception crop of a w×h image: up to ten
// tries of an area fraction uniform in [0.08, 1] and an aspect ratio
// log-uniform in [3/4, 4/3], at a uniform position where it fits;
// otherwise the centre crop of the whole image with the ratio clamped to
// that range (torchvision's RandomResizedCrop.get_params, with this
// package's random streams).
func randomResizedCrop(w, h int, r *rng) CropRect {
	area := float64(w * h)
	for range rrcTries {
		target := area * (rrcMinScale + (rrcMaxScale-rrcMinScale)*r.float64())
		ratio := math.Exp(rrcLogRatio[0] + (rrcLogRatio[1]-rrcLogRatio[0])*r.float64())
		cw := int(math.Round(math.Sqrt(target * ratio)))
		ch := int(math.Round(math.Sqrt(target / ratio)))
		if cw > 0 && ch > 0 && cw <= w && ch <= h {
			x := r.intn(w - cw + 1)
			y := r.intn(h - ch + 1)
			return CropRect{float64(x), float64(y), float64(cw), float64(ch)}
		}
	}
	in := float64(w) / float64(h)
	cw, ch := w, h
	switch {
	case in < 3.0/4:
		ch = int(math.Round(float64(w) / (3.0 / 4)))
	case in > 4.0/3:
		cw = int(math.Round(float64(h) * (4.0 / 3)))
	}
	return CropRect{float64((w - cw) / 2), float64((h - ch) / 2), float64(cw), float64(ch)}
}

// EvalBorder is what the evaluation crop resizes beyond the test size
// before cropping its centre: resize the short side to size+32, keep the
// central size×size (timm's crop_pct style; 224/256 = 0.875 at 224 px).
const EvalBorder = 32

// evalCrop is the evaluation crop of a w×h image for a size×size output:
// the centred square that, once the short side is resized to
// size+EvalBorder, is size pixels wide.
func evalCrop(w, h, size int) CropRect {
	side := float64(min(w, h)) * float64(size) / float64(size+EvalBorder)
	return CropRect{(float64(w) - side) / 2, (float64(h) - side) / 2, side, side}
}

// dctDenom is the largest JPEG DCT scale denominator (8, 4, 2 or 1) that
// keeps the crop at least out pixels on each side: libjpeg-turbo then
// decodes at that scale, skipping most of the work for a small target.
func dctDenom(c CropRect, out int) int {
	for _, d := range []int{8, 4, 2} {
		if c.W/float64(d) >= float64(out) && c.H/float64(d) >= float64(out) {
			return d
		}
	}
	return 1
}
