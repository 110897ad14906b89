// Package atomicfile writes files so that a crash, a kill or a full disk
// leaves either the old file or the new one, never a torn mixture, and
// refuses to replace files a command must not lose.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with b (Write with one write of b).
func WriteFile(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Write replaces path with what fill writes: a temporary file in the same
// directory (buffered), fsync, rename over path, directory fsync. On
// failure before the rename the temporary file is removed and path is
// untouched; if only the final directory sync fails, the new file is in
// place and the error says so. A new file gets mode 0644, a replaced
// regular file keeps its permission bits; a symbolic link at path is
// itself replaced.
func Write(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close() // may already be closed; the error is moot
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
		perm = st.Mode().Perm()
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if err := SyncDir(dir); err != nil {
		// The new file is in place; only its durability is in doubt.
		return &DirSyncError{Err: err}
	}
	return nil
}

// DirSyncError reports that a file was written and renamed into place but
// its directory could not be synced: the new contents are there, their
// durability across a power loss is not certain.
type DirSyncError struct{ Err error }

func (e *DirSyncError) Error() string {
	return "written, but syncing its directory failed: " + e.Err.Error()
}

func (e *DirSyncError) Unwrap() error { return e.Err }

// SyncDir makes directory entry changes in dir durable. Windows cannot
// sync a directory and does not need to.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// CheckTarget decides whether a command may write its output to out
// (named by flag in errors, e.g. "--out"): never over one of inputs (the
// files the command reads: losing them to a typo is never intended, even
// with force), never over a directory, and over any other existing file
// only with force. A path that exists but cannot be examined is refused
// rather than guessed about.
func CheckTarget(flag, out string, force bool, inputs ...string) error {
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, out, err)
	}
	for _, in := range inputs {
		if src, err := os.Stat(in); err == nil && os.SameFile(st, src) {
			return fmt.Errorf("%s %s is %s, an input of this command; refusing to replace it", flag, out, in)
		}
	}
	if st.IsDir() {
		return fmt.Errorf("%s %s is a directory; want a file name", flag, out)
	}
	if !force {
		return fmt.Errorf("%s %s exists; pass --force to replace it", flag, out)
	}
	return nil
}
