package data

import "fmt"

// MaxPixels is the most pixels nfvk accepts for one image, as stored or as
// padded for augmentation (64 megapixels): a typo such as --size 100000
// is refused with an error instead of an allocation that takes the
// machine's memory. Decoders check image headers against it before
// decoding.
const MaxPixels = 1 << 26

// CheckImageSize checks that images of w×h pixels, padded by pad on every
// side, fit MaxPixels. what names the setting in the error.
func CheckImageSize(what string, w, h, pad int) error {
	if w <= 0 || h <= 0 || pad < 0 {
		return fmt.Errorf("data: %s: image %dx%d with padding %d: want positive sides and padding >= 0", what, w, h, pad)
	}
	// Each side is checked first, so the product cannot overflow.
	pw, ph := int64(w)+2*int64(pad), int64(h)+2*int64(pad)
	if pw > MaxPixels || ph > MaxPixels || pw*ph > MaxPixels {
		return fmt.Errorf("data: %s: image %dx%d padded by %d is %dx%d pixels, more than the limit of %d (64 megapixels)", what, w, h, pad, pw, ph, MaxPixels)
	}
	return nil
}
