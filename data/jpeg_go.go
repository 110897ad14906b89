//go:build !cgo || nfvk_noturbo

package data

// turboAvailable is false without cgo (cross builds) or with the
// nfvk_noturbo tag: JPEGs decode through Go's image/jpeg, at full size.
const turboAvailable = false

func turboDecode(b []byte, name string, w, h, denom int, dst *RGB8) error {
	panic("data: turboDecode without libjpeg-turbo")
}
