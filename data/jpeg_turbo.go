//go:build cgo && linux && !nfvk_noturbo

package data

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"unsafe"
)

// turboAvailable: JPEGs decode through libjpeg-turbo (Linux cgo builds,
// with Debian's libturbojpeg0-dev; CGO_ENABLED=0, other systems or the
// nfvk_noturbo tag select Go's image/jpeg instead).
const turboAvailable = true

// turboDecode decodes a JPEG of w×h (from its header) into dst at scale
// 1/denom through libjpeg-turbo's DCT scaling, which skips the work the
// full size would need. Warnings (a truncated file) are errors.
func turboDecode(b []byte, name string, w, h, denom int, dst *RGB8) error {
	if denom != 1 && denom != 2 && denom != 4 && denom != 8 {
		denom = 1
	}
	handle := C.tjInitDecompress()
	if handle == nil {
		return fileErr(name, ErrDecode, "libjpeg-turbo: tjInitDecompress failed")
	}
	defer C.tjDestroy(handle)
	// The pixel cap was checked against Go's reading of the header; the
	// decoder's own must agree, or a crafted file could slip past it.
	var hw, hh, sub, cs C.int
	if C.tjDecompressHeader3(handle, (*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)), &hw, &hh, &sub, &cs) != 0 {
		return fileErr(name, ErrDecode, "libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	if int(hw) != w || int(hh) != h {
		return fileErr(name, ErrDims, "libjpeg-turbo reads %dx%d, the header check %dx%d", hw, hh, w, h)
	}
	sw, sh := (w+denom-1)/denom, (h+denom-1)/denom
	dst.Resize(sw, sh)
	rc := C.tjDecompress2(handle, (*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)),
		(*C.uchar)(unsafe.Pointer(&dst.Pix[0])), C.int(sw), C.int(3*sw), C.int(sh), C.TJPF_RGB,
		C.TJFLAG_STOPONWARNING)
	if rc != 0 {
		msg := C.GoString(C.tjGetErrorStr2(handle))
		return fileErr(name, ErrDecode, "libjpeg-turbo: %s", msg)
	}
	return nil
}
