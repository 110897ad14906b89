package data

import (
	"math"

	"github.com/go-gl/mathgl/mgl32"
)

// CropFlip returns the affine map, in mgl32's homogeneous 2D form, that
// takes an output pixel (x, y) of a w-wide image to the source pixel it
// shows after a random crop and an optional horizontal flip: with padding p
// and a crop offset (ox, oy) in [0, 2p]², dx = ox-p and dy = oy-p. The flip
// is applied after the crop, as torchvision's RandomCrop then
// RandomHorizontalFlip do: source = T(dx, dy) · F, F: x ↦ w-1-x.
func CropFlip(w, dx, dy int, flip bool) mgl32.Mat3 {
	m := mgl32.Translate2D(float32(dx), float32(dy))
	if flip {
		m = m.Mul3(mgl32.Translate2D(float32(w-1), 0).Mul3(mgl32.Scale2D(-1, 1)))
	}
	return m
}

// Warp resamples the planar c×h×w image src into dst (same shape) through
// the affine map m, which takes output pixel coordinates (x, y, 1), pixel
// centres at integers, to source coordinates; its last row is ignored.
// Source positions outside the image read as fill[channel] (0 when fill is
// nil).
//
// When m maps the pixel grid onto itself by shifts and flips (linear part
// diagonal with entries ±1, integer translation) — every map CropFlip makes
// — Warp copies exact rows, reversed for a flip; bilinear sampling would
// give the very same values at integer positions, only several times
// slower. Any other map (rotation, scale, sub-pixel shift) is sampled
// bilinearly.
func Warp(dst, src []float32, c, h, w int, m mgl32.Mat3, fill []float32) {
	if sx, tx, sy, ty, ok := gridMap(m); ok {
		warpGrid(dst, src, c, h, w, sx, tx, sy, ty, fill)
		return
	}
	warpBilinear(dst, src, c, h, w, m, fill)
}

// gridMap reports whether m is x' = sx·x + tx, y' = sy·y + ty with
// sx, sy ∈ {-1, 1} and integer tx, ty.
func gridMap(m mgl32.Mat3) (sx, tx, sy, ty int, ok bool) {
	a, b, e := m.At(0, 0), m.At(0, 1), m.At(0, 2)
	c, d, f := m.At(1, 0), m.At(1, 1), m.At(1, 2)
	unit := func(v float32) bool { return v == 1 || v == -1 }
	integer := func(v float32) bool { return v == float32(math.Round(float64(v))) && math.Abs(float64(v)) < 1<<24 }
	if b != 0 || c != 0 || !unit(a) || !unit(d) || !integer(e) || !integer(f) {
		return 0, 0, 0, 0, false
	}
	return int(a), int(e), int(d), int(f), true
}

func fillAt(fill []float32, ch int) float32 {
	if fill == nil {
		return 0
	}
	return fill[ch]
}

func setAll(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

func warpGrid(dst, src []float32, c, h, w, sx, tx, sy, ty int, fill []float32) {
	// Output columns [x0, x1) read source columns inside the image.
	var x0, x1 int
	if sx == 1 {
		x0, x1 = max(0, -tx), min(w, w-tx)
	} else {
		x0, x1 = max(0, tx-w+1), min(w, tx+1)
	}
	x1 = max(x0, x1)
	for ch := range c {
		f := fillAt(fill, ch)
		plane := src[ch*h*w : (ch+1)*h*w]
		for y := range h {
			row := dst[(ch*h+y)*w : (ch*h+y+1)*w]
			srcY := sy*y + ty
			if srcY < 0 || srcY >= h || x0 == x1 {
				setAll(row, f)
				continue
			}
			srow := plane[srcY*w : (srcY+1)*w]
			setAll(row[:x0], f)
			setAll(row[x1:], f)
			if sx == 1 {
				copy(row[x0:x1], srow[x0+tx:x1+tx])
			} else {
				out := row[x0:x1]
				for i := range out {
					out[i] = srow[tx-x0-i]
				}
			}
		}
	}
}

func warpBilinear(dst, src []float32, c, h, w int, m mgl32.Mat3, fill []float32) {
	a, b, e := float64(m.At(0, 0)), float64(m.At(0, 1)), float64(m.At(0, 2))
	cc, d, f := float64(m.At(1, 0)), float64(m.At(1, 1)), float64(m.At(1, 2))
	for ch := range c {
		fv := fillAt(fill, ch)
		plane := src[ch*h*w : (ch+1)*h*w]
		at := func(x, y int) float32 {
			if x < 0 || y < 0 || x >= w || y >= h {
				return fv
			}
			return plane[y*w+x]
		}
		for y := range h {
			for x := range w {
				px := a*float64(x) + b*float64(y) + e
				py := cc*float64(x) + d*float64(y) + f
				fx, fy := math.Floor(px), math.Floor(py)
				ax, ay := float32(px-fx), float32(py-fy)
				ix, iy := int(fx), int(fy)
				top := (1-ax)*at(ix, iy) + ax*at(ix+1, iy)
				bot := (1-ax)*at(ix, iy+1) + ax*at(ix+1, iy+1)
				dst[(ch*h+y)*w+x] = (1-ay)*top + ay*bot
			}
		}
	}
}
