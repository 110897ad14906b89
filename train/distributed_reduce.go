package train

import (
	"fmt"
	"time"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/nfnet"
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
// PyTorch DDP's default.
const BucketFloats = 25 << 20 / 4

// ReduceStats are the host-side times of the gradient allreduce of the
// last step: Read (device to host, while the device waits), Comm (in
// MPI, on the communication goroutine), Exposed (the part of Comm not
// hidden behind the backward pass: waiting for allreduces after it
// ended) and Write (host to device).
type ReduceStats struct {
	Read, Comm, Exposed, Write time.Duration
	// Floats is the number of values reduced, Buckets their buckets.
	Floats, Buckets int
}

// gradReducer sums a step's gradients over the ranks in buckets: a
// bucket is read from the device when the backward phase that completes
// it has run, and reduced on the communication goroutine while the
// device runs the next phases; the sums are written back before the
// update phase.
type gradReducer struct {
	c       Collective
	buckets []*gradBucket
	// ready[p] are the buckets complete after backward phase p of the
	// last micro-batch.
	ready [][]int
	work  chan *gradBucket
	done  chan reduced
	sent  int
	err   error
	stats ReduceStats
}

// reduced is the outcome of one bucket's allreduce.
type reduced struct {
	err  error
	took time.Duration
}

type gradBucket struct {
	ts    []*graph.Tensor
	offs  []int
	buf   []float32
	scale float32 // applied to the sum (1/ranks for unscaled gradients)
}

// newGradReducer sets up the buckets: tg.Buckets over Grads (each ready
// after its own phase, summed then scaled by 1/ranks) or, with
// accumulation, GradSums (already scaled) in buckets of at most limit
// values, last layer first, all ready after the last micro-batch; and
// starts the communication goroutine.
func newGradReducer(c Collective, tg *nfnet.TrainGraph, specs []nfnet.ParamSpec, limit int) *gradReducer {
	r := &gradReducer{c: c}
	if len(tg.Buckets) > 0 {
		for i, names := range tg.Buckets {
			b := &gradBucket{scale: 1 / float32(c.Size())}
			for _, name := range names {
				b.add(tg.Grads[name])
			}
			r.buckets = append(r.buckets, b)
			r.ready = append(r.ready, []int{i})
		}
	} else {
		var b *gradBucket
		var all []int
		for i := len(specs) - 1; i >= 0; i-- {
			t := tg.GradSums[specs[i].Name]
			if t == nil {
				continue // frozen
			}
			if b == nil || len(b.buf)+t.Size() > limit && len(b.buf) > 0 {
				b = &gradBucket{scale: 1}
				all = append(all, len(r.buckets))
				r.buckets = append(r.buckets, b)
			}
			b.add(t)
		}
		r.ready = [][]int{all}
	}
	for _, b := range r.buckets {
		r.stats.Floats += len(b.buf)
	}
	r.stats.Buckets = len(r.buckets)
	r.work = make(chan *gradBucket, len(r.buckets))
	r.done = make(chan reduced, len(r.buckets))
	go func() {
		for b := range r.work {
			t := time.Now()
			err := r.c.AllreduceSum(b.buf)
			if b.scale != 1 {
				for i := range b.buf {
					b.buf[i] *= b.scale
				}
			}
			r.done <- reduced{err, time.Since(t)}
		}
	}()
	return r
}

// add appends t to the bucket.
func (b *gradBucket) add(t *graph.Tensor) {
	b.ts, b.offs = append(b.ts, t), append(b.offs, len(b.buf))
	b.buf = append(b.buf, make([]float32, t.Size())...)
}

// begin starts a step.
func (r *gradReducer) begin() {
	r.sent, r.err = 0, nil
	r.stats.Read, r.stats.Comm, r.stats.Exposed, r.stats.Write = 0, 0, 0, 0
}

// send reads the buckets backward phase p completed and queues them for
// the allreduce.
func (r *gradReducer) send(x executor, p int) {
	if r.err != nil || p >= len(r.ready) {
		return
	}
	t := time.Now()
	defer func() { r.stats.Read += time.Since(t) }()
	for _, i := range r.ready[p] {
		b := r.buckets[i]
		for j, t := range b.ts {
			if err := x.ReadInto(t, b.buf[b.offs[j]:b.offs[j]+t.Size()]); err != nil {
				r.err = fmt.Errorf("read %v: %w", t, err)
				return
			}
		}
		r.work <- b
		r.sent++
	}
}

// finish waits for the allreduces and writes the sums back.
func (r *gradReducer) finish(x executor) error {
	for i := range r.sent {
		w := time.Now()
		d := <-r.done
		r.stats.Exposed += time.Since(w)
		r.stats.Comm += d.took
		if r.err == nil && d.err != nil {
			r.err = d.err
		}
		if r.err != nil {
			continue // drain what was sent
		}
		w = time.Now()
		b := r.buckets[i]
		for j, t := range b.ts {
			if err := x.Write(t, b.buf[b.offs[j]:b.offs[j]+t.Size()]); err != nil {
				r.err = fmt.Errorf("write %v: %w", t, err)
				break
			}
		}
		r.stats.Write += time.Since(w)
	}
	if r.err == nil && r.sent != len(r.buckets) {
		r.err = fmt.Errorf("%d of %d buckets were ready", r.sent, len(r.buckets))
	}
	if r.err != nil {
		return fmt.Errorf("gradient allreduce: %w", r.err)
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
	limit := s.o.Train.BucketFloats
	if limit <= 0 {
		limit = BucketFloats
	}
	s.reducer = newGradReducer(c, s.tg, s.Specs, limit)
	return nil
}
