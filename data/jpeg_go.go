//go:build !cgo || !linux || nfvk_noturbo

package data

// turboAvailable is false without cgo (cross builds), off Linux or with
// the nfvk_noturbo tag: JPEGs decode through Go's image/jpeg, at full
// size (about 7x slower than libjpeg-turbo here: README, Datasets).
const turboAvailable = false

func turboDecode(b []byte, name string, w, h, denom int, dst *RGB8) error {
	panic("data: turboDecode without libjpeg-turbo")
}
