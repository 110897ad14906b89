package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the lock file inside a run directory. It holds the PID of
// the process using the run; the lock itself is an OS file lock (flock on
// Unix, LockFileEx on Windows), so it ends with the process however it
// ends, and a stale file never blocks anyone.
const LockFile = ".lock"

// ErrRunLocked is wrapped by LockRun's error when another process holds
// the run.
var ErrRunLocked = errors.New("run directory in use")

// RunLock is a held lock on a run directory; Unlock releases it.
type RunLock struct {
	f *os.File
}

// LockRun takes the exclusive lock of the run directory dir, without
// waiting: while one process trains into a run, a second one (another
// resume, say) is refused with an error naming the holder's PID instead
// of deleting the first one's files and doubling its metrics lines.
func LockRun(dir string) (*RunLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: lock run %s: %w", dir, err)
	}
	busy, err := tryLock(f)
	if err != nil || busy {
		holder := readHolder(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("train: lock run %s: %w", dir, err)
		}
		return nil, fmt.Errorf("train: run %s is in use by process %s (another nfvk train or resume of it): wait for it to end or stop it: %w",
			dir, holder, ErrRunLocked)
	}
	// The PID is for the message above; the lock does not depend on it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &RunLock{f: f}, nil
}

// readHolder returns the PID recorded in the lock file, or says it is
// unknown (the holder may not have written it yet).
func readHolder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		if _, err := strconv.Atoi(s); err == nil {
			return s
		}
	}
	return "(PID unknown)"
}

// Unlock releases the lock (closing the file does); a nil lock is a no-op.
func (l *RunLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
