package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"io"
)

// RGB8 is an 8-bit RGB image, rows of W interleaved r, g, b bytes: the
// form the streaming pipeline decodes into, crops, resizes and augments
// (RandAugment works on 8-bit values, as DeepMind's and timm's do).
type RGB8 struct {
	W, H int
	Pix  []uint8 // len 3*W*H
}

// Resize makes m w×h, reusing its buffer when large enough.
func (m *RGB8) Resize(w, h int) {
	m.W, m.H = w, h
	m.Pix = grow(m.Pix, 3*w*h)
}

// DefaultMaxPixels is the decoded-image pixel cap of the streaming
// sources: a header declaring more is refused before any pixel is
// decoded (a decompression bomb).
const DefaultMaxPixels = 1 << 26

// imageHeader reads the format and size a JPEG or PNG header declares and
// checks them against the pixel cap.
func imageHeader(b []byte, name string, maxPixels int) (w, h int, format string, err error) {
	if len(b) == 0 {
		return 0, 0, "", fileErr(name, ErrEmpty, "zero-byte file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, "", fileErrWrap(name, ErrDecode, err, "reading the image header")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPixels/cfg.Height {
		return 0, 0, "", fileErr(name, ErrDims, "%s declares %dx%d pixels, limit %d (a decompression bomb?)", format, cfg.Width, cfg.Height, maxPixels)
	}
	return cfg.Width, cfg.Height, format, nil
}

// goDecode decodes b with the standard library into dst (whole image).
func goDecode(b []byte, name, format string, dst *RGB8) error {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fileErrWrap(name, ErrDecode, err, "truncated %s", format)
		}
		return fileErrWrap(name, ErrDecode, err, "decoding %s", format)
	}
	toRGB8(dst, img)
	return nil
}

// toRGB8 converts any image to RGB8, with fast paths for the types the
// JPEG and PNG decoders return. Transparent pixels come out black
// (premultiplied alpha), as LoadImageFolder's do.
func toRGB8(dst *RGB8, img image.Image) {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	dst.Resize(w, h)
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			out := dst.Pix[3*w*y : 3*w*(y+1)]
			yi := m.YOffset(r.Min.X, r.Min.Y+y)
			for x := range w {
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				out[3*x], out[3*x+1], out[3*x+2] = color.YCbCrToRGB(m.Y[yi+x], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			out := dst.Pix[3*w*y : 3*w*(y+1)]
			for x, v := range row {
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := dst.Pix[3*w*y : 3*w*(y+1)]
			for x := range w {
				out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := range h {
			out := dst.Pix[3*w*y : 3*w*(y+1)]
			for x := range w {
				cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
				out[3*x], out[3*x+1], out[3*x+2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			}
		}
	}
}

// decodeImage8 decodes a JPEG or PNG sample into dst, at a reduced
// scale 1/denom (denom 1, 2, 4 or 8) where the decoder can (JPEG through
// libjpeg-turbo); dst's size says what came out. The header is checked
// against maxPixels first; origW, origH are the declared size.
func decodeImage8(b []byte, name string, maxPixels, denom int, dst *RGB8) (origW, origH int, err error) {
	w, h, format, err := imageHeader(b, name, maxPixels)
	if err != nil {
		return 0, 0, err
	}
	if format == "jpeg" && turboAvailable {
		err = turboDecode(b, name, w, h, denom, dst)
	} else {
		err = goDecode(b, name, format, dst)
	}
	if err == nil && (dst.W <= 0 || dst.H <= 0) {
		err = fileErr(name, ErrDecode, "decoded to an empty %dx%d image", dst.W, dst.H)
	}
	if err != nil {
		return 0, 0, err
	}
	return w, h, nil
}

// DecoderName describes the decoders this build uses.
func DecoderName() string {
	if turboAvailable {
		return "libjpeg-turbo (cgo) for JPEG, image/png for PNG"
	}
	return "Go image/jpeg and image/png"
}
