//go:build aix || android || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris

package safetensors

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmap maps the first size bytes of f read-only.
func mmap(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
}

// munmap releases a mapping made by mmap.
func munmap(b []byte) error { return unix.Munmap(b) }
