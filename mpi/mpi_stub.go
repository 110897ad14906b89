//go:build !cgo || !unix

package mpi

import (
	"errors"
	"runtime"
)

// DefaultLibrary is the Open MPI runtime library Init opens.
const DefaultLibrary = "libmpi.so.40"

var errUnsupported = errors.New("mpi: data-parallel training needs cgo on Linux or another Unix (" + runtime.GOOS + ")")

// Comm is MPI_COMM_WORLD of an initialised MPI (never, on this platform).
type Comm struct{}

// Request is a non-blocking allreduce in flight.
type Request struct{}

// Init fails: MPI is opened through cgo and dlopen.
func Init(lib string) (*Comm, error) { return nil, errUnsupported }

// Rank is this process's rank.
func (c *Comm) Rank() int { return 0 }

// Size is the number of ranks.
func (c *Comm) Size() int { return 1 }

// LocalRank is the rank among those on this machine.
func (c *Comm) LocalRank() int { return 0 }

// AllreduceSum fails.
func (c *Comm) AllreduceSum(buf []float32) error { return errUnsupported }

// AllreduceSum64 fails.
func (c *Comm) AllreduceSum64(buf []float64) error { return errUnsupported }

// IallreduceSum fails.
func (c *Comm) IallreduceSum(buf []float32) (*Request, error) { return nil, errUnsupported }

// Wait fails.
func (r *Request) Wait() error { return errUnsupported }

// Test fails.
func (r *Request) Test() (bool, error) { return false, errUnsupported }

// Bcast fails.
func (c *Comm) Bcast(buf []float32, root int) error { return errUnsupported }

// BcastBytes fails.
func (c *Comm) BcastBytes(buf []byte, root int) error { return errUnsupported }

// Barrier fails.
func (c *Comm) Barrier() error { return errUnsupported }

// Abort does nothing.
func (c *Comm) Abort(code int) {}

// Finalize does nothing.
func (c *Comm) Finalize() error { return nil }
