package train

import (
	"fmt"
	"time"

	"github.com/nfvk/nfvk/graph"
)

// Collective is the communication between the ranks of a data-parallel
// run: *mpi.Comm over MPI_COMM_WORLD. Every rank makes the same calls in
// the same order; each sum must give every rank the same bits.
type Collective interface {
	// Rank is this process's rank, Size the number of ranks.
	Rank() int
	Size() int
	// AllreduceSum and AllreduceSum64 replace buf on every rank by its
	// sum over the ranks.
	AllreduceSum(buf []float32) error
	AllreduceSum64(buf []float64) error
	// Bcast and BcastBytes copy root's buf into every rank's.
	Bcast(buf []float32, root int) error
	BcastBytes(buf []byte, root int) error
}

// BucketFloats is the size of a gradient bucket: 25 MB of float32, as
// PyTorch DDP's default. A bucket is reduced while the next is read.
const BucketFloats = 25 << 20 / 4

// ReduceStats are the host-side times of the gradient allreduce of the
// last step: Read (device to host), Exposed (waiting for an allreduce
// after every bucket was read: communication not hidden behind reads
// and writes), Write (host to device) and Total.
type ReduceStats struct {
	Read, Exposed, Write, Total time.Duration
	// Floats is the number of values reduced, Buckets their buckets.
	Floats, Buckets int
}

// gradReducer sums a step's accumulated gradients over the ranks in
// buckets, last layer first (the order backward produces them): while
// one bucket is reduced on the communication goroutine the next is read
// from the device, and a reduced bucket is written back while later ones
// are still on the wire.
type gradReducer struct {
	c       Collective
	buckets []*gradBucket
	work    chan *gradBucket
	done    chan error
	stats   ReduceStats
}

type gradBucket struct {
	ts   []*graph.Tensor
	offs []int
	buf  []float32
}

// newGradReducer groups sums (GradSums by parameter, names in forward
// order) into buckets of at most limit values (a larger tensor is a
// bucket of its own) and starts the communication goroutine.
func newGradReducer(c Collective, names []string, sums map[string]*graph.Tensor, limit int) *gradReducer {
	r := &gradReducer{c: c}
	var b *gradBucket
	n := 0
	for i := len(names) - 1; i >= 0; i-- {
		t := sums[names[i]]
		if t == nil {
			continue // frozen
		}
		if b == nil || n+t.Size() > limit && n > 0 {
			b = &gradBucket{}
			r.buckets = append(r.buckets, b)
			n = 0
		}
		b.ts, b.offs = append(b.ts, t), append(b.offs, n)
		n += t.Size()
		r.stats.Floats += t.Size()
	}
	for _, b := range r.buckets {
		last := len(b.ts) - 1
		b.buf = make([]float32, b.offs[last]+b.ts[last].Size())
	}
	r.stats.Buckets = len(r.buckets)
	r.work = make(chan *gradBucket, len(r.buckets))
	r.done = make(chan error, len(r.buckets))
	go func() {
		for b := range r.work {
			r.done <- r.c.AllreduceSum(b.buf)
		}
	}()
	return r
}

// reduce reads every bucket from x, sums it over the ranks and writes it
// back.
func (r *gradReducer) reduce(x executor) error {
	t0 := time.Now()
	var st ReduceStats
	sent := 0
	var ferr error
	for _, b := range r.buckets {
		if ferr = r.readBucket(x, b); ferr != nil {
			break
		}
		r.work <- b
		sent++
	}
	st.Read = time.Since(t0)
	for i := range sent {
		w := time.Now()
		err := <-r.done
		st.Exposed += time.Since(w)
		if err != nil {
			ferr = err
		}
		if ferr != nil {
			continue // drain what was sent
		}
		w = time.Now()
		ferr = r.writeBucket(x, r.buckets[i])
		st.Write += time.Since(w)
	}
	st.Total, st.Floats, st.Buckets = time.Since(t0), r.stats.Floats, r.stats.Buckets
	r.stats = st
	if ferr != nil {
		return fmt.Errorf("gradient allreduce: %w", ferr)
	}
	return nil
}

func (r *gradReducer) readBucket(x executor, b *gradBucket) error {
	for i, t := range b.ts {
		if err := x.ReadInto(t, b.buf[b.offs[i]:b.offs[i]+t.Size()]); err != nil {
			return fmt.Errorf("read %v: %w", t, err)
		}
	}
	return nil
}

func (r *gradReducer) writeBucket(x executor, b *gradBucket) error {
	for i, t := range b.ts {
		if err := x.Write(t, b.buf[b.offs[i]:b.offs[i]+t.Size()]); err != nil {
			return fmt.Errorf("write %v: %w", t, err)
		}
	}
	return nil
}

// close stops the communication goroutine.
func (r *gradReducer) close() {
	if r.work != nil {
		close(r.work)
		r.work = nil
	}
}

// reduceGrads sums the accumulated gradients over the ranks (no-op
// without a collective).
func (s *Session) reduceGrads() error {
	if s.reducer == nil {
		return nil
	}
	return s.reducer.reduce(s.train)
}

// ReduceStats are the times of the last step's gradient allreduce (zero
// without a collective).
func (s *Session) ReduceStats() ReduceStats {
	if s.reducer == nil {
		return ReduceStats{}
	}
	return s.reducer.stats
}

// startReducer sets up the gradient allreduce of a data-parallel step.
func (s *Session) startReducer() error {
	c := s.o.Collective
	if c == nil || s.tg == nil {
		return nil
	}
	if s.tg.Replicas != c.Size() {
		return fmt.Errorf("train: session: the step is recorded for %d replicas, the collective has %d ranks", s.tg.Replicas, c.Size())
	}
	if s.tg.Hyper == nil {
		return fmt.Errorf("train: session: a data-parallel step needs the update")
	}
	names := make([]string, len(s.Specs))
	for i, sp := range s.Specs {
		names[i] = sp.Name
	}
	limit := s.o.BucketFloats
	if limit <= 0 {
		limit = BucketFloats
	}
	s.reducer = newGradReducer(c, names, s.tg.GradSums, limit)
	return nil
}
