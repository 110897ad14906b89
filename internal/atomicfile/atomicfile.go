// Package atomicfile writes files so that a crash, a kill or a full disk
// leaves either the old file or the new one, never a torn mixture, and
// refuses to replace files a command must not lose.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with b: a temporary file in the same directory,
// fsync, rename over path, directory fsync. On failure before the rename
// the temporary file is removed and path is untouched. The file gets mode
// 0644.
func WriteFile(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
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
	return SyncDir(dir)
}

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
