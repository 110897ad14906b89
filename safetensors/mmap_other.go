//go:build !(aix || android || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris)

package safetensors

import (
	"errors"
	"os"
)

// mmap is unavailable here; Open falls back to reading the file.
func mmap(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

// munmap is never called on this platform.
func munmap([]byte) error { return nil }
