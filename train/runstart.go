package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// lockForResume locks the run directory of the checkpoint or run
// directory path. A path that does not exist is left to the checkpoint
// loader to report (nil lock, nil error).
func lockForResume(path string) (*RunLock, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil
	}
	dir := path
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	return LockRun(dir)
}

// checkNewRun fails early, before the device is set up, when a new run
// named name cannot be created under root (NewRun checks again when it
// creates it).
func checkNewRun(root, name string) error {
	if name == "" {
		return nil
	}
	if root == "" {
		root = DefaultRunsRoot
	}
	if err := ValidRunName(name); err != nil {
		return err
	}
	dir := filepath.Join(root, name)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("train: run %s already exists (resume it, or choose another name)", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("train: new run: %w", err)
	}
	return nil
}

// discardUnstarted removes the directory of a run this call created when
// it failed before its first checkpoint (a divergence in the first epoch,
// a lost device): it holds nothing to resume, and an empty run directory
// only misleads. A directory holding anything else is kept. It reports
// whether the directory was removed.
func (l *loop) discardUnstarted() bool {
	if !l.created || l.lastCkpt != "" || l.run == nil {
		return false
	}
	if l.metrics != nil {
		l.metrics.Close()
		l.metrics = nil
	}
	// The files a run holds before its first checkpoint; Remove of the
	// directory fails, keeping it, if anything else is there.
	for _, name := range []string{MetricsFile, PlotFile, LockFile} {
		os.Remove(filepath.Join(l.run.Dir, name))
	}
	l.lock.Unlock()
	l.lock = nil
	return os.Remove(l.run.Dir) == nil
}
