package data

import "math"

// resampler resizes a crop of an RGB8 image to an output size with a
// separable triangle (bilinear) filter whose support widens with the
// downscale factor, so shrinking averages every source pixel as PIL's
// antialiased bilinear resize does, instead of skipping rows. Weights are
// normalised per output pixel.
type resampler struct {
	xi, yi []int32   // first source tap per output column / row
	xn, yn []int32   // taps per output column / row
	xw, yw []float32 // weights, concatenated
	tmp    []float32
}

// filterTaps computes, for out outputs covering [start, start+length) of
// an axis of n source pixels, each output's first tap, tap count and
// weights.
func filterTaps(first, count []int32, weights []float32, start, length float64, n, out int) ([]int32, []int32, []float32) {
	first, count, weights = first[:0], count[:0], weights[:0]
	scale := length / float64(out)
	support := math.Max(scale, 1)
	for i := range out {
		c := start + (float64(i)+0.5)*scale
		lo := max(int(math.Floor(c-support)), 0)
		hi := min(int(math.Ceil(c+support)), n) // exclusive
		var sum float64
		base := len(weights)
		for j := lo; j < hi; j++ {
			t := 1 - math.Abs((float64(j)+0.5-c)/support)
			if t < 0 {
				t = 0
			}
			weights = append(weights, float32(t))
			sum += t
		}
		if sum == 0 { // the crop lies outside the image: nearest pixel
			j := min(max(int(c), 0), n-1)
			weights = append(weights[:base], 1)
			lo, hi, sum = j, j+1, 1
		}
		for k := base; k < len(weights); k++ {
			weights[k] = float32(float64(weights[k]) / sum)
		}
		first = append(first, int32(lo))
		count = append(count, int32(hi-lo))
	}
	return first, count, weights
}

// resize writes the crop c of src, resized to out×out and mirrored left
// to right with flip, into dst.
func (r *resampler) resize(dst *RGB8, src *RGB8, c CropRect, out int, flip bool) {
	r.xi, r.xn, r.xw = filterTaps(r.xi, r.xn, r.xw, c.X, c.W, src.W, out)
	r.yi, r.yn, r.yw = filterTaps(r.yi, r.yn, r.yw, c.Y, c.H, src.H, out)
	// Horizontal pass over the source rows the vertical taps read.
	y0 := int(r.yi[0])
	y1 := int(r.yi[out-1] + r.yn[out-1])
	rows := y1 - y0
	r.tmp = grow(r.tmp, rows*out*3)
	xoff := make([]int, out) // weight offset per output column
	for i, o := 0, 0; i < out; i++ {
		xoff[i] = o
		o += int(r.xn[i])
	}
	for y := y0; y < y1; y++ {
		row := src.Pix[3*src.W*y : 3*src.W*(y+1)]
		t := r.tmp[(y-y0)*out*3 : (y-y0+1)*out*3]
		for i := range out {
			col := i
			if flip {
				col = out - 1 - i
			}
			w := r.xw[xoff[col] : xoff[col]+int(r.xn[col])]
			p := row[3*int(r.xi[col]):]
			var sr, sg, sb float32
			for k, wk := range w {
				sr += wk * float32(p[3*k])
				sg += wk * float32(p[3*k+1])
				sb += wk * float32(p[3*k+2])
			}
			t[3*i], t[3*i+1], t[3*i+2] = sr, sg, sb
		}
	}
	dst.Resize(out, out)
	o := 0
	for j := range out {
		w := r.yw[o : o+int(r.yn[j])]
		o += int(r.yn[j])
		drow := dst.Pix[3*out*j : 3*out*(j+1)]
		base := int(r.yi[j]) - y0
		for x := range 3 * out {
			var s float32
			for k, wk := range w {
				s += wk * r.tmp[(base+k)*out*3+x]
			}
			drow[x] = clamp8(s)
		}
	}
}

// clamp8 rounds to the nearest byte, saturating.
func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
