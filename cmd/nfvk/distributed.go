package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/mpi"
)

// ranks is this process's place in a data-parallel run started by mpirun
// or srun; nil when it runs alone.
type ranks struct {
	comm *mpi.Comm
}

// startRanks initialises MPI when a launcher started more than one rank
// (mpi.Launched); alone it returns nil and never loads MPI.
func startRanks() (*ranks, error) {
	if !mpi.Launched().Distributed() {
		return nil, nil
	}
	c, err := mpi.Init("")
	if err != nil {
		return nil, err
	}
	return &ranks{comm: c}, nil
}

// stdout is where the rank prints progress: rank 0 prints, the others
// are quiet.
func (r *ranks) stdout(w io.Writer) io.Writer {
	if r == nil || r.comm.Rank() == 0 {
		return w
	}
	return io.Discard
}

// device is the device spec a rank opens: flag (--device), else
// $NFVK_DEVICE (read by engine.Open), else the local rank's device among
// those of the best type (discrete GPUs first), round robin.
func (r *ranks) device(flag string) (string, error) {
	if r == nil || flag != "" || os.Getenv("NFVK_DEVICE") != "" {
		return flag, nil
	}
	infos, err := engine.Devices()
	if err != nil {
		return "", fmt.Errorf("list the Vulkan devices: %w", err)
	}
	var best []int
	for i, d := range infos {
		switch {
		case len(best) == 0 || d.Type > infos[best[0]].Type:
			best = []int{i}
		case d.Type == infos[best[0]].Type:
			best = append(best, i)
		}
	}
	if len(best) == 0 {
		return "", engine.ErrNoDevice
	}
	return strconv.Itoa(infos[best[r.comm.LocalRank()%len(best)]].Index), nil
}

// end finishes MPI. On an error it prints it with the rank and aborts
// the job: the other ranks may wait in a collective this rank will never
// join, and MPI_Abort ends them (the launcher names this rank).
func (r *ranks) end(stderr io.Writer, err error) {
	if r == nil {
		return
	}
	var stopped interruptedErr
	if err != nil && !errors.As(err, &stopped) {
		fmt.Fprintf(stderr, "nfvk: rank %d of %d: %v\n", r.comm.Rank(), r.comm.Size(), err)
		r.comm.Abort(1)
		return
	}
	// Success, or every rank stopped after the same step (they agree on
	// it) with rank 0's checkpoint saved: finalize together; the caller
	// reports a stop and exits non-zero.
	if ferr := r.comm.Finalize(); ferr != nil {
		fmt.Fprintf(stderr, "nfvk: rank %d: %v\n", r.comm.Rank(), ferr)
	}
}

// describe is the line rank 0 prints about the run's ranks.
func (r *ranks) describe(batch int) string {
	n := r.comm.Size()
	return fmt.Sprintf("data-parallel: %d ranks (MPI), %d images per rank of each global batch of %d", n, batch/n, batch)
}
