package data

import (
	"fmt"
	"math"
)

// RandAugment is DeepMind's RandAugment (the TF EfficientNet lineage their
// NFNet pipeline uses) on 8-bit images: Layers times, one op chosen
// uniformly from the sixteen below is applied at Magnitude (0-10), with
// the sign of a signed op's argument flipped with probability 1/2. Every
// draw comes from the sample's own random stream, after the crop's.
// DeepMind's F0 recipe uses 4 layers at magnitude 5 (randaugment_405).
//
// Geometric ops fill with grey 128 and sample the nearest pixel. Two
// arguments are absolute pixels in the reference (translation 100 px,
// cutout 40 px, tuned for 224 px images); here they scale with the image:
// 100/224 and 40/224 of its width at magnitude 10.
type RandAugment struct {
	Layers    int
	Magnitude float64
}

// Enabled reports whether any layer is applied.
func (a RandAugment) Enabled() bool { return a.Layers > 0 }

func (a RandAugment) validate() error {
	if a.Layers < 0 || a.Layers > 16 || !(a.Magnitude >= 0 && a.Magnitude <= 30) {
		return fmt.Errorf("data: randaugment %d layers at magnitude %v: want 0-16 layers, magnitude 0-30", a.Layers, a.Magnitude)
	}
	return nil
}

// The ops, in the reference's order.
const (
	raAutoContrast = iota
	raEqualize
	raInvert
	raRotate
	raPosterize
	raSolarize
	raColor
	raContrast
	raBrightness
	raSharpness
	raShearX
	raShearY
	raTranslateX
	raTranslateY
	raCutout
	raSolarizeAdd
	raOps
)

// RandAugmentOps names the ops by index.
var RandAugmentOps = [raOps]string{"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color",
	"Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout", "SolarizeAdd"}

// apply runs the layers on m in place (tmp is scratch).
func (a RandAugment) apply(m, tmp *RGB8, r *rng) {
	for range a.Layers {
		op := r.intn(raOps)
		arg := raArg(op, a.Magnitude, m.W)
		if raSigned(op) && r.coin() {
			arg = -arg
		}
		var cx, cy int
		if op == raCutout {
			cy, cx = r.intn(m.H), r.intn(m.W)
		}
		raApply(op, arg, cx, cy, m, tmp)
	}
}

func raSigned(op int) bool {
	switch op {
	case raRotate, raShearX, raShearY, raTranslateX, raTranslateY:
		return true
	}
	return false
}

// raArg is the reference's level-to-argument map at magnitude mag of 10.
func raArg(op int, mag float64, w int) float64 {
	l := mag / 10
	switch op {
	case raRotate:
		return l * 30 // degrees
	case raPosterize:
		return float64(int(l * 4)) // bits kept
	case raSolarize:
		return float64(int(l * 256)) // threshold
	case raColor, raContrast, raBrightness, raSharpness:
		return l*1.8 + 0.1 // blend factor
	case raShearX, raShearY:
		return l * 0.3
	case raTranslateX, raTranslateY:
		return math.Round(l * 100 * float64(w) / 224)
	case raCutout:
		return float64(int(l * 40 * float64(w) / 224)) // half size
	case raSolarizeAdd:
		return float64(int(l * 110))
	}
	return 0
}

// raApply applies one op with its argument (cx, cy: the cutout centre).
func raApply(op int, arg float64, cx, cy int, m, tmp *RGB8) {
	switch op {
	case raAutoContrast:
		autoContrast(m)
	case raEqualize:
		equalize(m)
	case raInvert:
		for i, v := range m.Pix {
			m.Pix[i] = 255 - v
		}
	case raPosterize:
		shift := 8 - uint(arg)
		for i, v := range m.Pix {
			m.Pix[i] = uint8(int(v) >> shift << shift)
		}
	case raSolarize:
		for i, v := range m.Pix {
			if float64(v) >= arg {
				m.Pix[i] = 255 - v
			}
		}
	case raSolarizeAdd:
		for i, v := range m.Pix {
			if v < 128 {
				m.Pix[i] = uint8(min(int(v)+int(arg), 255))
			}
		}
	case raColor:
		grayOf(m, tmp)
		blend(m, tmp, arg)
	case raContrast:
		grayOf(m, tmp)
		var sum float64
		for i := 0; i < len(tmp.Pix); i += 3 {
			sum += float64(tmp.Pix[i])
		}
		mean := uint8(sum/float64(m.W*m.H) + 0.5)
		for i := range tmp.Pix {
			tmp.Pix[i] = mean
		}
		blend(m, tmp, arg)
	case raBrightness:
		tmp.Resize(m.W, m.H)
		clear(tmp.Pix)
		blend(m, tmp, arg)
	case raSharpness:
		smooth3(m, tmp)
		blend(m, tmp, arg)
	case raRotate:
		s, c := math.Sincos(arg * math.Pi / 180)
		// Output (x, y) shows the source rotated about the centre.
		ox, oy := float64(m.W-1)/2, float64(m.H-1)/2
		affine(m, tmp, [6]float64{c, -s, ox - c*ox + s*oy, s, c, oy - s*ox - c*oy})
	case raShearX:
		affine(m, tmp, [6]float64{1, arg, 0, 0, 1, 0})
	case raShearY:
		affine(m, tmp, [6]float64{1, 0, 0, arg, 1, 0})
	case raTranslateX:
		affine(m, tmp, [6]float64{1, 0, arg, 0, 1, 0})
	case raTranslateY:
		affine(m, tmp, [6]float64{1, 0, 0, 0, 1, arg})
	case raCutout:
		h := int(arg)
		for y := max(cy-h, 0); y < min(cy+h, m.H); y++ {
			for x := max(cx-h, 0); x < min(cx+h, m.W); x++ {
				p := 3 * (y*m.W + x)
				m.Pix[p], m.Pix[p+1], m.Pix[p+2] = 128, 128, 128
			}
		}
	}
}

// autoContrast stretches each channel's range to 0-255 (a flat channel
// is left alone).
func autoContrast(m *RGB8) {
	for c := range 3 {
		lo, hi := uint8(255), uint8(0)
		for i := c; i < len(m.Pix); i += 3 {
			lo, hi = min(lo, m.Pix[i]), max(hi, m.Pix[i])
		}
		if hi <= lo {
			continue
		}
		for i := c; i < len(m.Pix); i += 3 {
			m.Pix[i] = uint8(int(m.Pix[i]-lo) * 255 / int(hi-lo)) // exact: hi maps to 255
		}
	}
}

// equalize equalizes each channel's histogram (PIL's and the reference's
// lookup table: step = (pixels - count of the last value) / 255).
func equalize(m *RGB8) {
	for c := range 3 {
		var hist [256]int
		for i := c; i < len(m.Pix); i += 3 {
			hist[m.Pix[i]]++
		}
		last := 0
		for v := 255; v >= 0; v-- {
			if hist[v] != 0 {
				last = hist[v]
				break
			}
		}
		step := (m.W*m.H - last) / 255
		if step == 0 {
			continue
		}
		var lut [256]uint8
		n := step / 2
		for v := range 256 {
			lut[v] = uint8(min(n/step, 255))
			n += hist[v]
		}
		for i := c; i < len(m.Pix); i += 3 {
			m.Pix[i] = lut[m.Pix[i]]
		}
	}
}

// grayOf writes m's luma (ITU-R 601 weights, rounded) to all three
// channels of g.
func grayOf(m, g *RGB8) {
	g.Resize(m.W, m.H)
	for i := 0; i < len(m.Pix); i += 3 {
		l := uint8(0.2989*float64(m.Pix[i]) + 0.587*float64(m.Pix[i+1]) + 0.114*float64(m.Pix[i+2]) + 0.5)
		g.Pix[i], g.Pix[i+1], g.Pix[i+2] = l, l, l
	}
}

// blend sets m = d + f*(m-d), clamped to 0-255 and truncated: f 0 gives
// the degenerate image d, 1 leaves m, above 1 extrapolates.
func blend(m, d *RGB8, f float64) {
	for i, v := range m.Pix {
		x := float64(d.Pix[i]) + f*(float64(v)-float64(d.Pix[i]))
		m.Pix[i] = uint8(min(max(x, 0), 255))
	}
}

// smooth3 writes m smoothed by the 3×3 kernel [1 1 1; 1 5 1; 1 1 1]/13 to
// s, border pixels unchanged (PIL's SMOOTH, as the reference's
// Sharpness uses), rounded.
func smooth3(m, s *RGB8) {
	s.Resize(m.W, m.H)
	copy(s.Pix, m.Pix)
	w := m.W
	for y := 1; y < m.H-1; y++ {
		for x := 1; x < w-1; x++ {
			for c := range 3 {
				sum := 4 * int(m.Pix[3*(y*w+x)+c])
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						sum += int(m.Pix[3*((y+dy)*w+x+dx)+c])
					}
				}
				s.Pix[3*(y*w+x)+c] = uint8((sum*2 + 13) / 26)
			}
		}
	}
}

// affine resamples m through t, which takes output pixel (x, y) to the
// source (t0 x + t1 y + t2, t3 x + t4 y + t5), at the nearest pixel;
// outside the image reads grey 128.
func affine(m, tmp *RGB8, t [6]float64) {
	tmp.Resize(m.W, m.H)
	for y := range m.H {
		for x := range m.W {
			sx := math.Round(t[0]*float64(x) + t[1]*float64(y) + t[2])
			sy := math.Round(t[3]*float64(x) + t[4]*float64(y) + t[5])
			o := 3 * (y*m.W + x)
			if sx < 0 || sy < 0 || sx >= float64(m.W) || sy >= float64(m.H) {
				tmp.Pix[o], tmp.Pix[o+1], tmp.Pix[o+2] = 128, 128, 128
				continue
			}
			i := 3 * (int(sy)*m.W + int(sx))
			tmp.Pix[o], tmp.Pix[o+1], tmp.Pix[o+2] = m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	}
	m.Pix, tmp.Pix = tmp.Pix, m.Pix
}
