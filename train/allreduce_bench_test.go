package train

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/mpi"
	"github.com/nfvk/nfvk/mpi/mpitest"
	"github.com/nfvk/nfvk/nfnet"
)

// allreduceEnv tells TestAllreduceRank, run by BenchmarkAllreduce under
// mpirun, how many repetitions to time.
const allreduceEnv = "NFVK_BENCH_ALLREDUCE"

// allreduceResult is what rank 0 of TestAllreduceRank reports.
type allreduceResult struct {
	Floats, Buckets                int
	BucketedGBs, PlainGBs          float64
	StepMs, CommMs, ExposedMs      float64
	ReadMs, WriteMs                float64
	StepBatch, StepSize, StepRanks int
}

// BenchmarkAllreduce measures, on 2 ranks under mpirun, nfvk's bucketed
// gradient allreduce (the reducer's own path: host copies, 25 MB buckets
// reduced on the communication goroutine) of the F0 gradient set next to
// one MPI_Allreduce of the same 71.5 M floats in the same run (GB/s =
// bytes of the gradients / time), and the F0 training step of 2 ranks on
// the device: its time and the communication it leaves exposed.
func BenchmarkAllreduce(b *testing.B) {
	if os.Getenv(allreduceEnv) != "" {
		b.Skip("the ranks run TestAllreduceRank")
	}
	cmd, err := mpitest.Command(2, os.Args[0], "-test.run", "^TestAllreduceRank$", "-test.v", "-test.timeout", "30m")
	if err != nil {
		b.Skip(err)
	}
	cmd.Env = append(os.Environ(), allreduceEnv+"="+strconv.Itoa(max(b.N, 3)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("mpirun: %v\n%s", err, out)
	}
	var res allreduceResult
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if _, j, ok := strings.Cut(line, "ALLREDUCE "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				b.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		b.Fatalf("no result from rank 0:\n%s", out)
	}
	b.ReportMetric(res.BucketedGBs, "bucketed_GB/s")
	b.ReportMetric(res.PlainGBs, "mpi_allreduce_GB/s")
	b.ReportMetric(res.BucketedGBs/res.PlainGBs, "ratio")
	b.ReportMetric(float64(res.Buckets), "buckets")
	b.ReportMetric(res.StepMs, "f0_step_ms")
	b.ReportMetric(res.CommMs, "comm_ms/step")
	b.ReportMetric(res.ExposedMs, "exposed_ms/step")
	b.ReportMetric(res.ReadMs+res.WriteMs, "copy_ms/step")
	b.Logf("F0 gradients: %d floats in %d buckets; step: 2 ranks x batch %d of %dpx", res.Floats, res.Buckets, res.StepBatch, res.StepSize)
}

// hostExec is an executor over host memory: the reducer's reads and
// writes as memory copies, as on a unified-memory device.
type hostExec struct{ m map[*graph.Tensor][]float32 }

func (x hostExec) Write(t *graph.Tensor, v []float32) error { copy(x.m[t], v); return nil }
func (x hostExec) ReadInto(t *graph.Tensor, dst []float32) error {
	copy(dst, x.m[t])
	return nil
}
func (x hostExec) Submit(uint64, map[*graph.Tensor][]float32) error { return nil }
func (x hostExec) SubmitPhase(int, uint64, map[*graph.Tensor][]float32) error {
	return nil
}
func (x hostExec) Wait(context.Context) error { return nil }
func (x hostExec) Close()                     {}

// TestAllreduceRank is one rank of BenchmarkAllreduce.
func TestAllreduceRank(t *testing.T) {
	reps, _ := strconv.Atoi(os.Getenv(allreduceEnv))
	if reps <= 0 {
		t.Skip("runs as a rank of BenchmarkAllreduce, under mpirun")
	}
	c, err := mpi.Init("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finalize()
	cfg, err := nfnet.Variant("f0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := allreduceResult{StepBatch: 1, StepSize: 32, StepRanks: c.Size()}
	rec := NanoRecipe()
	opt := rec.optimizer(l)
	tg, err := nfnet.BuildTrain(l, nfnet.TrainOptions{Batch: res.StepBatch, Height: res.StepSize, Width: res.StepSize,
		Recipe: opt, Replicas: c.Size(), BucketFloats: BucketFloats})
	if err != nil {
		t.Fatal(err)
	}
	x := hostExec{m: map[*graph.Tensor][]float32{}}
	for _, g := range tg.Grads {
		x.m[g] = make([]float32, g.Size())
	}
	r := newGradReducer(c, tg, l.Params(), BucketFloats)
	defer r.close()
	res.Floats, res.Buckets = r.stats.Floats, r.stats.Buckets
	bucketed := func() {
		r.begin()
		for p := range len(r.ready) {
			r.send(x, p)
		}
		if err := r.finish(x); err != nil {
			t.Fatal(err)
		}
	}
	plainBuf := make([]float32, res.Floats)
	plain := func() {
		if err := c.AllreduceSum(plainBuf); err != nil {
			t.Fatal(err)
		}
	}
	gb := float64(4*res.Floats) / 1e9
	// Alternate the two, after a warm-up of each, so load on a shared
	// machine falls on both alike.
	bucketed()
	plain()
	var tb, tp time.Duration
	for range reps {
		c.Barrier()
		t0 := time.Now()
		bucketed()
		tb += time.Since(t0)
		c.Barrier()
		t0 = time.Now()
		plain()
		tp += time.Since(t0)
	}
	res.BucketedGBs = gb * float64(reps) / tb.Seconds()
	res.PlainGBs = gb * float64(reps) / tp.Seconds()
	r.close()
	plainBuf, x.m = nil, nil
	stepF0(t, c, l, opt, &res)
	if c.Rank() == 0 {
		j, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ALLREDUCE %s\n", j)
	}
}

// stepF0 times F0 training steps of this rank's share on the device and
// the reducer's statistics of the last.
func stepF0(t *testing.T, c *mpi.Comm, l *nfnet.Layout, opt agc.Recipe, res *allreduceResult) {
	ctx := context.Background()
	s, err := NewSession(ctx, l, SessionOptions{Kernels: loopKernels(t), Collective: c,
		Train: nfnet.TrainOptions{Batch: res.StepBatch, Height: res.StepSize, Width: res.StepSize, LabelSmoothing: 0.1,
			Recipe: opt, Replicas: c.Size(), BucketFloats: BucketFloats}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := nfnet.Init(l.Params(), 1)
	if err != nil {
		t.Fatal(err)
	}
	st := State{Params: map[string][]float32{}}
	for i, sp := range l.Params() {
		st.Params[sp.Name] = w[i]
	}
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	sched, err := agc.NewSchedule(opt, 10)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys := randomBatch(uint64(c.Rank()), res.StepBatch, 3, res.StepSize, l.Config.NumClasses)
	const steps = 3 // the first warms up
	for i := range steps {
		c.Barrier()
		t0 := time.Now()
		if err := s.Submit(xs, ys, sched.At(int64(i)), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 / (steps - 1) }
		rs := s.ReduceStats()
		res.StepMs += ms(time.Since(t0))
		res.CommMs += ms(rs.Comm)
		res.ExposedMs += ms(rs.Exposed)
		res.ReadMs += ms(rs.Read)
		res.WriteMs += ms(rs.Write)
	}
}
