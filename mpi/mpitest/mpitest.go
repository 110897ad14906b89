// Package mpitest starts commands under Open MPI's mpirun for tests and
// benchmarks.
package mpitest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// Mpirun returns the path of mpirun, or an error saying how to get it.
func Mpirun() (string, error) {
	p, err := exec.LookPath("mpirun")
	if err != nil {
		return "", fmt.Errorf("mpirun not found (make deps installs Open MPI): %w", err)
	}
	return p, nil
}

// Command is `mpirun -np np --oversubscribe name args...` (more ranks than
// cores are fine on a test machine), allowed to run as root (CI does),
// with the launcher's output tagged by rank.
func Command(np int, name string, args ...string) (*exec.Cmd, error) {
	mpirun, err := Mpirun()
	if err != nil {
		return nil, err
	}
	a := []string{"-np", strconv.Itoa(np), "--oversubscribe", "--tag-output"}
	if os.Getuid() == 0 {
		a = append(a, "--allow-run-as-root")
	}
	// TCP and shared memory only: a test machine has no fabric, and the
	// probes for one print warnings.
	a = append(a, "--mca", "btl", "self,vader,tcp", "--mca", "pml", "ob1")
	a = append(a, name)
	return exec.Command(mpirun, append(a, args...)...), nil
}
