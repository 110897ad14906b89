package train

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/nfnet"
)

// memHub joins the ranks of an in-process Collective: each call waits for
// every rank's, then each rank gets the sum taken in rank order.
type memHub struct {
	size int
	mu   sync.Mutex
	cond *sync.Cond
	gen  int
	in   [][]float64
	out  []float64
	got  int
}

func newMemHub(size int) *memHub {
	h := &memHub{size: size, in: make([][]float64, size)}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// exchange gives rank's values and returns f of every rank's.
func (h *memHub) exchange(rank int, v []float64, f func(in [][]float64) []float64) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	gen := h.gen
	h.in[rank] = v
	h.got++
	if h.got == h.size {
		h.out = f(h.in)
		h.got, h.in = 0, make([][]float64, h.size)
		h.gen++
		h.cond.Broadcast()
	}
	for h.gen == gen {
		h.cond.Wait()
	}
	return h.out
}

// memCollective is one rank of a memHub.
type memCollective struct {
	h    *memHub
	rank int
}

func (c memCollective) Rank() int { return c.rank }
func (c memCollective) Size() int { return c.h.size }

func sumInOrder(in [][]float64) []float64 {
	out := make([]float64, len(in[0]))
	for _, v := range in {
		for i := range out {
			out[i] += v[i]
		}
	}
	return out
}

func (c memCollective) AllreduceSum(buf []float32) error {
	v := make([]float64, len(buf))
	for i, x := range buf {
		v[i] = float64(x)
	}
	// float32 additions in rank order, as an MPI ring of two does.
	out := c.h.exchange(c.rank, v, func(in [][]float64) []float64 {
		s := make([]float64, len(in[0]))
		for i := range s {
			var acc float32
			for _, r := range in {
				acc += float32(r[i])
			}
			s[i] = float64(acc)
		}
		return s
	})
	for i := range buf {
		buf[i] = float32(out[i])
	}
	return nil
}

func (c memCollective) AllreduceSum64(buf []float64) error {
	copy(buf, c.h.exchange(c.rank, append([]float64(nil), buf...), sumInOrder))
	return nil
}

func (c memCollective) Bcast(buf []float32, root int) error { return bcastVia(c, buf, root) }

func (c memCollective) BcastBytes(buf []byte, root int) error { return bcastVia(c, buf, root) }

// bcastVia broadcasts root's buf through the hub as float64s.
func bcastVia[T float32 | byte](c memCollective, buf []T, root int) error {
	v := make([]float64, len(buf))
	for i, x := range buf {
		v[i] = float64(x)
	}
	out := c.h.exchange(c.rank, v, func(in [][]float64) []float64 { return in[root] })
	for i := range buf {
		buf[i] = T(out[i])
	}
	return nil
}

// TestReplicasMatchOneProcess: two replicas, each stepping its share of
// every batch and summing gradients through a Collective, reach the
// parameters, momentum and EMA of one process stepping whole batches (to
// float32 summation noise), and agree with each other bit for bit: with
// the backward pass split into many buckets, in one bucket, and with
// accumulated micro-batches.
func TestReplicasMatchOneProcess(t *testing.T) {
	k := loopKernels(t)
	l, err := nfnet.NewLayout(loopConfig(4))
	if err != nil {
		t.Fatal(err)
	}
	rec := NanoRecipe()
	opt := rec.optimizer(l)
	const global, steps = 16, 3
	ds := blobs(global*steps, 5)
	ss := ds.SampleSize()
	sched, err := agc.NewSchedule(opt, 10)
	if err != nil {
		t.Fatal(err)
	}
	run := func(s *Session, x [][]float32, y [][]int32) error {
		for i := range steps {
			if err := s.Submit(x[i], y[i], sched.At(int64(i)), uint64(i)); err != nil {
				return err
			}
			if _, err := s.Wait(context.Background()); err != nil {
				return err
			}
		}
		return nil
	}
	w, err := nfnet.Init(l.Params(), 3)
	if err != nil {
		t.Fatal(err)
	}
	init := map[string][]float32{}
	for i, sp := range l.Params() {
		init[sp.Name] = w[i]
	}
	open := func(o nfnet.TrainOptions, c Collective) *Session {
		o.Height, o.Width, o.LabelSmoothing, o.Recipe = 8, 8, 0.1, opt
		s, err := NewSession(context.Background(), l, SessionOptions{Kernels: k, Train: o, Collective: c})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if err := s.SetState(State{Params: init}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var xs [][]float32
	var ys [][]int32
	for i := range steps {
		xs = append(xs, ds.Images[i*global*ss:(i+1)*global*ss])
		ys = append(ys, ds.Labels[i*global:(i+1)*global])
	}
	one := open(nfnet.TrainOptions{Batch: global}, nil)
	if err := run(one, xs, ys); err != nil {
		t.Fatal(err)
	}
	want, err := one.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		accum, buckets int
		minBuckets     int
	}{
		{"many buckets", 1, 300, 3},
		{"one bucket", 1, 0, 1},
		{"accumulated", 2, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			hub := newMemHub(2)
			local := global / 2 / c.accum
			states := make([]State, 2)
			errs := make([]error, 2)
			nb := 0
			var wg sync.WaitGroup
			for r := range 2 {
				s := open(nfnet.TrainOptions{Batch: local, AccumSteps: c.accum, Replicas: 2, BucketFloats: c.buckets}, memCollective{hub, r})
				nb = s.ReduceStats().Buckets
				if nb < c.minBuckets {
					t.Fatalf("%d buckets, want >= %d", nb, c.minBuckets)
				}
				if got, want := s.TrainGraph().Graph.Phases(), len(s.TrainGraph().Buckets)+1; c.accum == 1 && got != want {
					t.Fatalf("%d phases for %d buckets", got, want-1)
				}
				// Rank r's share of each micro-batch.
				var rx [][]float32
				var ry [][]int32
				for i := range steps {
					var x []float32
					var y []int32
					for j := range c.accum {
						from := j*global/c.accum + r*local
						x = append(x, xs[i][from*ss:(from+local)*ss]...)
						y = append(y, ys[i][from:from+local]...)
					}
					rx, ry = append(rx, x), append(ry, y)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if errs[r] = run(s, rx, ry); errs[r] == nil {
						states[r], errs[r] = s.ReadState()
					}
				}()
			}
			wg.Wait()
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			worst := 0.0
			for _, sp := range l.Params() {
				for kind, pair := range map[string][3][]float32{
					"param":    {want.Params[sp.Name], states[0].Params[sp.Name], states[1].Params[sp.Name]},
					"momentum": {want.Momentum[sp.Name], states[0].Momentum[sp.Name], states[1].Momentum[sp.Name]},
					"ema":      {want.EMA[sp.Name], states[0].EMA[sp.Name], states[1].EMA[sp.Name]},
				} {
					r := relDiff(pair[0], pair[1])
					worst = max(worst, r)
					if r > 1e-5 {
						t.Errorf("%s %s: replicas differ from one process by %.3g relative", kind, sp.Name, r)
					}
					for i := range pair[1] {
						if math.Float32bits(pair[1][i]) != math.Float32bits(pair[2][i]) {
							t.Fatalf("%s %s[%d]: rank 0 has %v, rank 1 %v", kind, sp.Name, i, pair[1][i], pair[2][i])
						}
					}
				}
			}
			t.Logf("%d buckets: worst relative difference from one process %.3g", nb, worst)
		})
	}
}

// relDiff is |a-b| / |a| (norms), 0 for two zero tensors.
func relDiff(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += math.Pow(float64(a[i])-float64(b[i]), 2)
		n += float64(a[i]) * float64(a[i])
	}
	if d == 0 {
		return 0
	}
	return math.Sqrt(d / n)
}

// TestNewDistRejectsUnevenBatch: a global batch that does not split over
// the ranks is an error naming both.
func TestNewDistRejectsUnevenBatch(t *testing.T) {
	r := NanoRecipe()
	r.Batch = 10
	_, err := newDist(memCollective{newMemHub(4), 0}, r)
	if err == nil || err.Error() != "train: run: batch 10 (the global batch, per micro-batch with accumulation) does not split over 4 ranks" {
		t.Fatalf("err = %v", err)
	}
}
