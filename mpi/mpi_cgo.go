//go:build cgo && unix

package mpi

/*
#cgo linux LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Thread levels (MPI_THREAD_*; the same values in every implementation).
const (
	threadSerialized = 2
	threadMultiple   = 3
)

// maxCount is the largest count one MPI call takes (a C int); longer
// buffers go in pieces.
const maxCount = math.MaxInt32

// DefaultLibrary is the Open MPI runtime library Init opens.
const DefaultLibrary = "libmpi.so.40"

// Comm is MPI_COMM_WORLD of an initialised MPI.
type Comm struct {
	mu         sync.Mutex
	rank, size int
	local      int
	finalized  bool
}

var (
	initMu sync.Mutex
	opened bool
	inited bool
)

// Init opens the MPI library (lib; "" is $NFVK_MPI_LIB, else
// DefaultLibrary) and initialises MPI. MPI is initialised once per process:
// a second Init fails.
func Init(lib string) (*Comm, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if inited {
		return nil, errors.New("mpi: init: MPI is initialised once per process")
	}
	if lib == "" {
		lib = libraryFromEnv()
	}
	if !opened {
		cpath := C.CString(lib)
		defer C.free(unsafe.Pointer(cpath))
		var buf [512]C.char
		if C.nfmpi_open(cpath, &buf[0], C.size_t(len(buf))) != 0 {
			return nil, fmt.Errorf("mpi: open %s: %s (install Open MPI, e.g. openmpi-bin on Debian/Ubuntu, or set NFVK_MPI_LIB)", lib, C.GoString(&buf[0]))
		}
		opened = true
	}
	setDefaults()
	var provided C.int
	if err := check("init", C.nfmpi_init_thread(threadMultiple, &provided)); err != nil {
		return nil, err
	}
	inited = true
	if provided < threadSerialized {
		return nil, fmt.Errorf("mpi: init: the library gives thread level %d, nfvk needs MPI_THREAD_SERIALIZED (%d)", provided, threadSerialized)
	}
	c := &Comm{}
	var r, s C.int
	if err := check("comm rank", C.nfmpi_comm_rank(&r)); err != nil {
		return nil, err
	}
	if err := check("comm size", C.nfmpi_comm_size(&s)); err != nil {
		return nil, err
	}
	c.rank, c.size = int(r), int(s)
	c.local = Launched().LocalRank
	return c, nil
}

// Rank is this process's rank in MPI_COMM_WORLD.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks.
func (c *Comm) Size() int { return c.size }

// LocalRank is the rank among those on this machine, from the launcher's
// environment (0 when it gives none).
func (c *Comm) LocalRank() int { return c.local }

// AllreduceSum replaces buf on every rank by its sum over the ranks.
func (c *Comm) AllreduceSum(buf []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.awaitRanks(); err != nil {
		return err
	}
	return inChunks(buf, func(p unsafe.Pointer, n int) C.int {
		return C.nfmpi_allreduce_f32((*C.float)(p), C.int(n))
	})
}

// AllreduceSum64 is AllreduceSum for float64 (counts and sums that must
// not round).
func (c *Comm) AllreduceSum64(buf []float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.awaitRanks(); err != nil {
		return err
	}
	return inChunks(buf, func(p unsafe.Pointer, n int) C.int {
		return C.nfmpi_allreduce_f64((*C.double)(p), C.int(n))
	})
}

// inChunks runs an in-place allreduce over buf in pieces of at most
// maxCount elements (MPI counts are C ints).
func inChunks[T float32 | float64](buf []T, allreduce func(p unsafe.Pointer, n int) C.int) error {
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := check("allreduce", allreduce(unsafe.Pointer(&buf[0]), n)); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Request is a non-blocking allreduce in flight. Its buffer must not be
// touched until Wait returns (or Test reports it done).
type Request struct {
	c    *Comm
	reqs []unsafe.Pointer // MPI_Request handles (C memory)
	pin  runtime.Pinner
	done bool
}

// IallreduceSum starts AllreduceSum of buf and returns at once.
func (c *Comm) IallreduceSum(buf []float32) (*Request, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Request{c: c}
	if len(buf) == 0 {
		r.done = true
		return r, nil
	}
	r.pin.Pin(&buf[0]) // MPI uses buf after the call returns
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		var h unsafe.Pointer
		if err := check("iallreduce", C.nfmpi_iallreduce_f32((*C.float)(unsafe.Pointer(&buf[0])), C.int(n), &h)); err != nil {
			r.pin.Unpin()
			return nil, err
		}
		r.reqs = append(r.reqs, h)
		buf = buf[n:]
	}
	return r, nil
}

// Wait waits for the allreduce.
func (r *Request) Wait() error {
	if r.done {
		return nil
	}
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for i := range r.reqs {
		if err := check("wait", C.nfmpi_wait(&r.reqs[i])); err != nil {
			return err
		}
	}
	r.done = true
	r.pin.Unpin()
	return nil
}

// Test reports whether the allreduce is done, driving MPI's progress.
func (r *Request) Test() (bool, error) {
	if r.done {
		return true, nil
	}
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for len(r.reqs) > 0 {
		var done C.int
		if err := check("test", C.nfmpi_test(&r.reqs[0], &done)); err != nil {
			return false, err
		}
		if done == 0 {
			return false, nil
		}
		r.reqs = r.reqs[1:]
	}
	r.done = true
	r.pin.Unpin()
	return true, nil
}

// Bcast copies root's buf into every rank's buf.
func (c *Comm) Bcast(buf []float32, root int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.awaitRanks(); err != nil {
		return err
	}
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := check("bcast", C.nfmpi_bcast_f32((*C.float)(unsafe.Pointer(&buf[0])), C.int(n), C.int(root))); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// BcastBytes is Bcast for bytes.
func (c *Comm) BcastBytes(buf []byte, root int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.awaitRanks(); err != nil {
		return err
	}
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := check("bcast", C.nfmpi_bcast_bytes(unsafe.Pointer(&buf[0]), C.int(n), C.int(root))); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Barrier waits for every rank.
func (c *Comm) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.awaitRanks()
}

// awaitRanks returns when every rank has reached this call, sleeping
// while it waits: a non-blocking barrier polled with growing sleeps
// (20 µs to 1 ms). A rank that reached a collective first would otherwise
// spin in MPI (or yield in a busy loop) until the slowest arrives,
// taking a core from the ranks still computing wherever they share cores
// (a CPU Vulkan device, more ranks than cores). The collective that
// follows then finds every rank there.
func (c *Comm) awaitRanks() error {
	var h unsafe.Pointer
	if err := check("ibarrier", C.nfmpi_ibarrier(&h)); err != nil {
		return err
	}
	sleep := 20 * time.Microsecond
	for {
		var done C.int
		if err := check("test", C.nfmpi_test(&h, &done)); err != nil {
			return err
		}
		if done != 0 {
			return nil
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, time.Millisecond)
	}
}

// Abort ends every rank of the job with code (MPI_Abort; the launcher
// reports which rank called it). It does not wait for a call in flight.
func (c *Comm) Abort(code int) {
	C.nfmpi_abort(C.int(code))
}

// Finalize shuts MPI down; every rank calls it once at the end.
func (c *Comm) Finalize() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finalized {
		return nil
	}
	c.finalized = true
	return check("finalize", C.nfmpi_finalize())
}

func check(what string, code C.int) error {
	if code == 0 {
		return nil
	}
	var buf [512]C.char
	C.nfmpi_error_string(code, &buf[0], C.size_t(len(buf)))
	return fmt.Errorf("mpi: %s: %s", what, C.GoString(&buf[0]))
}
