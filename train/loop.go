package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/nfnet"
)

// Train trains o.Model on o.Train and returns when the recipe's epochs are
// done or ctx ends. Per step the host uploads the batch (prepared by a
// data.Loader goroutine while the device ran the previous step) and the
// hyper buffer (learning rate from the warmup+cosine schedule, EMA decay)
// and replays the recorded step: forward, label-smoothed loss, backward,
// AGC+SGD-Nesterov and the weight EMA. After each epoch it evaluates the
// EMA weights on o.Test, appends a line to metrics.jsonl, saves a
// checkpoint and redraws the plot. When ctx is cancelled (Ctrl-C) it saves
// a checkpoint after the last finished step and returns with
// Result.Interrupted set and a nil error; resuming from that checkpoint
// continues exactly where the run stopped.
//
// progress may be nil.
func Train(ctx context.Context, o Options, progress Progress) (res Result, err error) {
	res.TestAcc = -1
	if progress == nil {
		progress = ProgressFunc(func(ProgressUpdate) {})
	}
	defer func() {
		if cerr := progress.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if o.Kernels == nil {
		return res, errors.New("train: run: no device (Options.Kernels)")
	}
	if err := o.dataErr(); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	l, err := newLoop(ctx, o)
	if err != nil {
		return res, err
	}
	defer l.close()
	if l.run != nil {
		res.Dir = l.run.Dir
	}
	l.watch = newStepWatch(o.Kernels.Device(), o.Watchdog)
	defer l.watch.restore()
	res, err = l.train(ctx, progress)
	if err != nil && l.discardUnstarted() {
		res.Dir = ""
	}
	return res, l.explainDeviceFailure(err)
}

// loop is one Train call's state.
type loop struct {
	o        Options
	rs       runState
	layout   *nfnet.Layout
	run      *Run
	metrics  *MetricsWriter
	history  []EpochMetrics
	sched    *agc.Schedule
	spe      int // steps per epoch
	sess     *Session
	pos      data.Position // next batch
	global   int64         // steps done
	lastCkpt string
	targets  []float32 // soft targets of the step, reused
	dist     *dist     // nil: one process
	lock     *RunLock  // held until close
	created  bool      // this call created the run directory
	watch    *stepWatch
	// The test split's image size and count (the eval pass's shape).
	testH, testW, testN int
}

// newLoop sets up a new or resumed run: the run directory, model, state,
// step, evaluator and schedule.
func newLoop(ctx context.Context, o Options) (_ *loop, err error) {
	l := &loop{o: o}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	var ck *Checkpoint
	if o.Resume != "" {
		// Locked before the checkpoint is read: a run another process
		// is still writing is refused, never resumed from a stale step.
		// (Rank 0 of a data-parallel run holds it for all the ranks.)
		if o.Collective == nil || o.Collective.Rank() == 0 {
			if l.lock, err = lockForResume(o.Resume); err != nil {
				return nil, err
			}
		}
		if ck, err = loadResume(o.Resume); err != nil {
			return nil, err
		}
		if l.rs, err = decodeRunState(ck); err != nil {
			return nil, err
		}
		if len(o.Model.Depths) == 0 {
			o.Model = ck.Config
		}
	} else {
		l.rs.Recipe = o.Recipe
	}
	r := &l.rs.Recipe
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("train: run: %w", err)
	}
	if l.dist, err = newDist(o.Collective, *r); err != nil {
		return nil, err
	}
	if l.layout, err = nfnet.NewLayout(o.Model); err != nil {
		return nil, fmt.Errorf("train: run: model: %w", err)
	}
	specs := l.layout.Params()
	if ck != nil {
		if err := ck.CheckCompatible(o.Model, specs); err != nil {
			return nil, err
		}
	}
	tr, te, err := o.splits()
	if err != nil {
		return nil, err
	}
	r.Height, r.Width = tr.h, tr.w
	l.testH, l.testW, l.testN = te.h, te.w, te.n
	if tr.n < r.globalBatch() {
		return nil, fmt.Errorf("train: run: %d training images make no full batch of %d", tr.n, r.globalBatch())
	}
	l.spe = tr.n / r.globalBatch() // data.DropLast
	if ck != nil {
		if ck.StepsPerEpoch != l.spe {
			return nil, fmt.Errorf("train: checkpoint %s: %d steps per epoch, this data and batch size give %d (another dataset?)", ck.Path, ck.StepsPerEpoch, l.spe)
		}
		l.pos, l.global = ck.Position, ck.Step
	}
	if l.sched, err = agc.NewSchedule(r.Recipe.Scaled(r.globalBatch()), l.spe); err != nil {
		return nil, fmt.Errorf("train: run: %w", err)
	}

	if err := l.checkRanksAgree(l.global); err != nil {
		return nil, err
	}
	if ck == nil && l.writer() {
		if err := checkNewRun(o.RunsDir, o.RunName); err != nil {
			return nil, err
		}
	}
	if err := l.splitTest(); err != nil {
		return nil, err
	}
	if err := l.openSession(ctx, ck); err != nil {
		return nil, err
	}
	if err := l.broadcastState(); err != nil {
		return nil, err
	}
	// The run directory (rank 0's) is created (and a resumed one's
	// metrics cut back to its checkpoint) only once the model is on the
	// device: a run that cannot start leaves nothing behind.
	if !l.writer() {
		// no run directory
	} else if ck != nil {
		if l.run, err = OpenRun(filepath.Dir(ck.Path)); err != nil {
			return nil, err
		}
		if l.metrics, l.history, err = ResumeMetrics(l.run.MetricsPath(), ck.Epoch); err != nil {
			return nil, err
		}
		l.lastCkpt = ck.Path
	} else {
		root := o.RunsDir
		if root == "" {
			root = "runs"
		}
		if l.run, err = NewRun(root, o.RunName, time.Now()); err != nil {
			return nil, err
		}
		if l.lock, err = LockRun(l.run.Dir); err != nil {
			return nil, err
		}
		l.created = true
		if l.metrics, err = CreateMetrics(l.run.MetricsPath()); err != nil {
			return nil, err
		}
	}

	return l, nil
}

// openSession records the training step and the eval pass and sets the
// state: the checkpoint's, or a fresh initialisation.
func (l *loop) openSession(ctx context.Context, ck *Checkpoint) error {
	r, o := l.rs.Recipe, l.o
	so := SessionOptions{Kernels: o.Kernels, Tune: o.Tune, Train: nfnet.TrainOptions{Batch: l.localBatch(), Height: r.Height, Width: r.Width,
		LabelSmoothing: r.LabelSmoothing, Recipe: r.optimizer(l.layout), AccumSteps: r.AccumSteps, Replicas: l.replicas(), BucketFloats: BucketFloats}}
	if r.soft() { // smoothing is folded into the targets
		so.Train.SoftTargets, so.Train.LabelSmoothing = true, 0
	}
	if l.dist != nil {
		so.Collective = l.dist.c
	}
	var err error
	if so.Precision, err = graph.ParsePrecision(r.Precision); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	so.LossScale, so.Train.LossScaleGrowth = r.lossScale()
	eb, n := o.EvalBatch, l.testN
	if eb <= 0 {
		eb = l.localBatch()
	}
	if test := l.testSet(); test != nil { // this rank's share
		n = test.N
	}
	so.EvalBatch, so.EvalHeight, so.EvalWidth = min(eb, n), l.testH, l.testW
	// Refused before anything is allocated: a model too big for the
	// device fails in a second with what it needs, not late and raw.
	if err := admit(l.layout, so, o.DeviceMemoryLimit); err != nil {
		return err
	}
	if l.sess, err = NewSession(ctx, l.layout, so); err != nil {
		return err
	}
	var st State
	switch {
	case ck != nil:
		st = State{Params: tensorData(ck.Params), EMA: tensorData(ck.EMA), Momentum: tensorData(ck.Momentum), LossScale: ck.LossScale}
	case o.Init != nil:
		st.Params = o.Init
	default:
		specs := l.layout.Params()
		vals, err := nfnet.Init(specs, r.Seed)
		if err != nil {
			return err
		}
		st.Params = map[string][]float32{}
		for i, sp := range specs {
			st.Params[sp.Name] = vals[i]
		}
	}
	return l.sess.SetState(st)
}

// loadResume loads the checkpoint at path, or the latest in the run
// directory path.
func loadResume(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	if st.IsDir() {
		if path, err = LatestCheckpoint(path); err != nil {
			return nil, fmt.Errorf("train: resume: %w", err)
		}
	}
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return c, c.CheckFinite()
}

func tensorData(m map[string]Tensor) map[string][]float32 {
	out := make(map[string][]float32, len(m))
	for k, t := range m {
		out[k] = t.Data
	}
	return out
}

func (l *loop) close() {
	if l.sess != nil {
		l.sess.Close()
	}
	if l.metrics != nil {
		l.metrics.Close()
	}
	l.lock.Unlock()
}

// stepSeed is the device's random seed of global step i: derived from the
// step, never from a counter, so a resumed run draws the same bits.
func stepSeed(seed uint64, i int64) uint64 {
	z := seed + uint64(i)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// train runs the steps.
func (l *loop) train(ctx context.Context, progress Progress) (Result, error) {
	r := l.rs.Recipe
	res := Result{Metrics: l.history, TestAcc: -1}
	if l.run != nil {
		res.Dir = l.run.Dir
	}
	if n := len(l.history); n > 0 {
		res.TestAcc = l.history[n-1].TestAcc
	}
	total := int64(r.Epochs) * int64(l.spe)
	if l.global >= total {
		res.Step, res.Checkpoint, res.AlreadyDone = l.global, l.lastCkpt, true
		return res, nil
	}
	// The loader has its own context: it must stop when Run returns, but
	// not before the loop has saved its checkpoint on cancellation.
	lctx, lcancel := context.WithCancel(context.Background())
	defer lcancel()
	loader, err := l.newLoader(lctx)
	if err != nil {
		return res, fmt.Errorf("train: run: %w", err)
	}
	defer loader.Close()

	start := time.Now()
	elapsed0 := l.rs.ElapsedS
	elapsed := func() float64 { return elapsed0 + time.Since(start).Seconds() }
	meter := NewMeter(start, l.global, total, l.o.RateWindow)
	var imagesSeen int64
	epochStart := time.Now()
	trainS0 := l.rs.EpochTrainS
	classes := l.layout.Config.NumClasses
	for l.global < total {
		if l.stopping(ctx) {
			l.rs.ElapsedS = elapsed()
			l.rs.EpochTrainS = trainS0 + time.Since(epochStart).Seconds()
			return l.interrupt(res)
		}
		b, err := loader.Next(l.loaderContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				continue // saved at the top of the loop
			}
			if errors.Is(err, io.EOF) {
				return res, fmt.Errorf("train: run: data ended at step %d of %d", l.global, total)
			}
			return res, fmt.Errorf("train: run: %w", err)
		}
		if b.Pos != l.pos {
			return res, fmt.Errorf("train: run: loader gave batch %+v, expected %+v", b.Pos, l.pos)
		}
		stepStart := time.Now()
		if err := l.submit(b, stepSeed(r.Seed, l.global)); err != nil {
			return res, err
		}
		// The device runs the step; the loader goroutine meanwhile
		// prepares the next batch. Wait ignores ctx: a step in flight
		// always finishes, so the state saved on Ctrl-C is consistent.
		loss, err := l.sess.Wait(context.Background())
		if err != nil {
			return res, err
		}
		l.watch.observe(time.Since(stepStart))
		logits, err := l.sess.Logits()
		if err != nil {
			return res, err
		}
		hits := countHits(logits, l.shardLabels(b.Labels), classes)
		loader.Recycle(b)
		if loss, hits, err = l.agree(ctx, loss, hits); err != nil {
			return res, err
		}
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return res, l.diverged(l.global+1, fmt.Sprintf("loss %v", loss))
		}
		l.global++
		l.pos = loader.Pipeline().Next(l.pos)
		imagesSeen += int64(r.globalBatch())
		l.rs.EpochLoss += float64(loss)
		l.rs.EpochHits += int64(hits)
		l.rs.EpochImages += int64(r.globalBatch())
		if l.o.OnStep != nil {
			l.o.OnStep(l.global, loss)
		}
		now := time.Now()
		meter.Observe(now, l.global, imagesSeen)
		rate, eta, ok := meter.Rate()
		if !ok {
			eta = -1
		}
		epoch := int(l.global-1)/l.spe + 1
		inEpoch := int(l.global-1)%l.spe + 1
		steps := float64(l.rs.EpochImages) / float64(r.globalBatch())
		progress.Update(ProgressUpdate{Epoch: epoch, Epochs: r.Epochs, Step: inEpoch, StepsPerEpoch: l.spe,
			Loss: l.rs.EpochLoss / steps, Acc: float64(l.rs.EpochHits) / float64(l.rs.EpochImages), ImagesPerS: rate, ETA: eta})
		if inEpoch == l.spe {
			trainS := trainS0 + now.Sub(epochStart).Seconds()
			m, err := l.endEpoch(ctx, epoch, steps, trainS, elapsed)
			if err != nil {
				return res, err
			}
			res.Metrics = l.history
			res.TestAcc = m.TestAcc
			progress.EpochDone(m)
			epochStart, trainS0 = time.Now(), 0
			meter = NewMeter(epochStart, l.global, total, l.o.RateWindow) // evaluation is no training time
			imagesSeen = 0
		}
		if l.o.MaxSteps > 0 && l.global >= l.o.MaxSteps && l.global < total {
			return l.stopAtMax(res, epoch, steps, trainS0+now.Sub(epochStart).Seconds(), elapsed)
		}
	}
	res.Step, res.Checkpoint, res.Metrics = l.global, l.lastCkpt, l.history
	return res, nil
}

// stopAtMax ends a run at Options.MaxSteps: a metrics line for the epoch
// so far (unless the epoch just ended and has one), a checkpoint and the
// plot. The epoch's partial sums stay in the checkpoint, so a resumed run
// reports the whole epoch as an uninterrupted one does (the partial line
// is dropped on resume, as every line past the checkpoint's epoch).
func (l *loop) stopAtMax(res Result, epoch int, steps, trainS float64, elapsed func() float64) (Result, error) {
	res.Step, res.Stopped = l.global, true
	if l.rs.EpochImages > 0 {
		m, err := l.measure(epoch, steps, trainS, elapsed)
		if err != nil {
			return res, err
		}
		res.TestAcc = m.TestAcc
		if err := l.checkpoint(); err != nil {
			return res, err
		}
		if err := l.plot(); err != nil {
			return res, err
		}
	}
	res.Checkpoint, res.Metrics = l.lastCkpt, l.history
	return res, nil
}

// endEpoch evaluates, logs the epoch's metrics, checkpoints and plots.
func (l *loop) endEpoch(ctx context.Context, epoch int, steps, trainS float64, elapsed func() float64) (EpochMetrics, error) {
	m, err := l.measure(epoch, steps, trainS, elapsed)
	if err != nil {
		return m, err
	}
	l.rs.EpochLoss, l.rs.EpochHits, l.rs.EpochImages, l.rs.EpochTrainS = 0, 0, 0, 0
	if err := l.checkpoint(); err != nil {
		return m, err
	}
	if err := l.plot(); err != nil {
		return m, err
	}
	return m, nil
}

// measure evaluates the EMA weights and appends the metrics of the epoch
// (so far) to the log and the history.
func (l *loop) measure(epoch int, steps, trainS float64, elapsed func() float64) (EpochMetrics, error) {
	m := EpochMetrics{Epoch: epoch, Step: l.global, TrainLoss: l.rs.EpochLoss / steps,
		TrainAcc: float64(l.rs.EpochHits) / float64(l.rs.EpochImages), LR: l.sched.LR(l.global - 1),
		ImagesPerS: float64(l.rs.EpochImages) / math.Max(trainS, 1e-9), TestAcc: math.NaN()}
	// Evaluation runs to the end even when ctx ends meanwhile: the
	// epoch's metrics and checkpoint come first.
	er, err := l.evaluate(context.Background())
	if err != nil {
		return m, err
	}
	m.TestAcc, m.TestLoss = er.Acc, er.Loss
	ms := l.o.Kernels.Device().MemoryStats()
	m.PeakDeviceMiB = float64(ms.PeakBytes) / (1 << 20)
	m.PeakHostMiB = peakRSSMiB()
	if err := l.measureLossScale(&m); err != nil {
		return m, err
	}
	m.ElapsedS = elapsed()
	if l.metrics != nil {
		if err := l.metrics.Append(m); err != nil {
			return m, err
		}
	}
	l.history = append(l.history, m)
	l.rs.ElapsedS = m.ElapsedS
	return m, nil
}

// interrupt saves a checkpoint after the last finished step.
func (l *loop) interrupt(res Result) (Result, error) {
	res.Step, res.Interrupted, res.Metrics = l.global, true, l.history
	if err := l.checkpoint(); err != nil {
		return res, err
	}
	res.Checkpoint = l.lastCkpt
	if len(l.history) > 0 {
		if err := l.plot(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkpoint saves the complete state at the current step.
func (l *loop) checkpoint() error {
	if !l.writer() {
		return nil
	}
	st, err := l.sess.ReadState()
	if err != nil {
		return err
	}
	if err := l.checkStateFinite(st); err != nil {
		return err
	}
	run, err := json.Marshal(l.rs)
	if err != nil {
		return fmt.Errorf("train: checkpoint: run options: %w", err)
	}
	c := &Checkpoint{Step: l.global, Epoch: l.pos.Epoch, StepsPerEpoch: l.spe, Position: l.pos,
		RNG: RNGState{Seed: l.rs.Recipe.Seed, DataSeed: l.rs.Recipe.DataSeed}, Config: l.layout.Config, Run: run,
		Summary: Summarize(l.history), Params: map[string]Tensor{}, EMA: map[string]Tensor{}, Momentum: map[string]Tensor{},
		LossScale: st.LossScale}
	for _, sp := range l.layout.Params() {
		c.Params[sp.Name] = Tensor{Shape: sp.Shape, Data: st.Params[sp.Name]}
		c.EMA[sp.Name] = Tensor{Shape: sp.Shape, Data: st.EMA[sp.Name]}
		c.Momentum[sp.Name] = Tensor{Shape: sp.Shape, Data: st.Momentum[sp.Name]}
	}
	keep := l.o.KeepCheckpoints
	if keep <= 0 {
		keep = 2
	}
	path, err := l.run.SaveCheckpoint(c, keep)
	if err != nil {
		return err
	}
	l.lastCkpt = path
	return nil
}
