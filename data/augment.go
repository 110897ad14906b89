package data

import (
	"fmt"

	"github.com/go-gl/mathgl/mgl32"
)

// Augment is the per-sample geometric augmentation: a random crop of the
// image padded by Pad pixels on every side (torchvision's
// RandomCrop(size, padding=Pad)) and, with HFlip, a horizontal flip with
// probability 1/2. Both are one affine map (CropFlip) applied by Warp, so
// the output keeps the input's H×W. Typical settings: Pad 4 for 32px
// CIFAR images, Pad 2 for 28px (Fashion-)MNIST; HFlip suits CIFAR and
// Fashion-MNIST but not digits.
type Augment struct {
	Pad   int
	HFlip bool
	// Fill is the per-channel value of padded pixels; nil means the
	// dataset's BlackLevel, i.e. zero padding before normalization.
	Fill []float32
}

func (a *Augment) validate(c, h, w int) error {
	if a.Pad < 0 {
		return fmt.Errorf("data: augment pad %d is negative", a.Pad)
	}
	if err := CheckImageSize("augment pad", w, h, a.Pad); err != nil {
		return err
	}
	if a.Fill != nil && len(a.Fill) != c {
		return fmt.Errorf("data: augment fill has %d values for %d channels", len(a.Fill), c)
	}
	return nil
}

// draw picks one sample's map. The order of draws (dx, dy, flip) is part
// of the reproducibility contract.
func (a *Augment) draw(r *rng, w int) mgl32.Mat3 {
	var dx, dy int
	if a.Pad > 0 {
		dx = r.intn(2*a.Pad+1) - a.Pad
		dy = r.intn(2*a.Pad+1) - a.Pad
	}
	flip := a.HFlip && r.coin()
	return CropFlip(w, dx, dy, flip)
}
