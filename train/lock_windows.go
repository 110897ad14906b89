//go:build windows

package train

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is the byte locked: far past the PID, since a Windows lock
// also blocks reads of the bytes it covers.
const lockOffset = 1 << 30

// tryLock takes an exclusive lock on f without blocking; busy reports
// that another open file holds it.
func tryLock(f *os.File) (busy bool, err error) {
	ol := windows.Overlapped{Offset: lockOffset}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}
