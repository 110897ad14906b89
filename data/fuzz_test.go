package data

import (
	"image/color"
	"testing"
)

// FuzzDecodeSample feeds arbitrary bytes to the streaming decoder
// (libjpeg-turbo in cgo builds) at every DCT scale: an error, never a
// panic, and never an image past the pixel cap.
func FuzzDecodeSample(f *testing.F) {
	f.Add(jpegBytes(f, ramp(20, 12, 7)), uint8(1))
	f.Add(pngBytes(f, solid(3, 5, color.White)), uint8(2))
	f.Add([]byte("\xff\xd8\xff\xe0 not much"), uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, d uint8) {
		var m RGB8
		const limit = 1 << 16
		w, h, err := decodeImage8(b, "fuzz.jpg", limit, []int{1, 2, 4, 8}[d%4], &m)
		if err == nil && (w*h > limit || m.W*m.H > limit || len(m.Pix) != 3*m.W*m.H) {
			t.Fatalf("decoded %dx%d (declared %dx%d, %d bytes) past the cap %d", m.W, m.H, w, h, len(m.Pix), limit)
		}
	})
}
