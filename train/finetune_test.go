package train

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/nfnet"
)

// The fine-tuning knobs of a recipe: gradient accumulation, frozen
// parameters, the classifier's learning-rate multiplier, a step limit.

// fixtureModel is the timm fixture model with its weights.
func fixtureModel(t *testing.T) (*nfnet.Layout, map[string][]float32) {
	t.Helper()
	fx := loadSmallFixture(t)
	return fx.l, fx.weights
}

// randomBatch returns n seeded normal images of the model's input and
// labels.
func randomBatch(seed uint64, n, c, hw, classes int) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 13))
	x := make([]float32, n*c*hw*hw)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	return x, labels
}

// trainSteps records the fixture model's step for micro-batches of micro
// images (accum of them per update), runs steps updates on the given
// batches and returns the session.
func trainSteps(t *testing.T, l *nfnet.Layout, w map[string][]float32, r agc.Recipe, micro, accum int, batches [][]float32, labels [][]int32) *Session {
	t.Helper()
	ctx := context.Background()
	s, err := NewSession(ctx, l, SessionOptions{Kernels: loopKernels(t),
		Train: nfnet.TrainOptions{Batch: micro, Height: 32, Width: 32, LabelSmoothing: 0.1, Recipe: r, AccumSteps: accum}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.SetState(State{Params: w}); err != nil {
		t.Fatal(err)
	}
	sched, err := agc.NewSchedule(r, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		if err := s.Submit(batches[i], labels[i], sched.At(int64(i+2)), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fineTuneRecipe clips with AGC (which must see the accumulated gradient),
// decays weights and uses Nesterov momentum.
var fineTuneRecipe = agc.Recipe{Epochs: 1, LR: 0.05, WarmupEpochs: 0.2, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4,
	AGCClip: 0.01, AGCExclude: []string{"head.fc"}, AGCUnits: agc.Timm, AGCSkipGains: true, EMADecay: 0.99}

// TestAccumulationMatchesBigBatch: 4 updates of batch 64 x 2 accumulated
// micro-batches give the parameters, momentum and EMA of 4 updates of
// batch 128 on the same images, to float32 summation noise: every value
// within 2e-5 of its tensor's largest magnitude, or 1e-9 absolute for a
// tensor near zero (a skip gain's gradient cancels to ~1e-7, so its noise
// is large relative to itself) — the gradient is summed in another order:
// two halves each averaged, then added. The update phase is one program
// run once per update.
func TestAccumulationMatchesBigBatch(t *testing.T) {
	l, w := fixtureModel(t)
	var xs [][]float32
	var ls [][]int32
	for i := range 4 {
		x, lab := randomBatch(uint64(i), 128, 1, 32, 10)
		xs, ls = append(xs, x), append(ls, lab)
	}
	big := trainSteps(t, l, w, fineTuneRecipe, 128, 1, xs, ls)
	acc := trainSteps(t, l, w, fineTuneRecipe, 64, 2, xs, ls)
	if n := len(acc.train.(gpuExec).Programs()); n != 2 {
		t.Fatalf("accumulating step has %d programs, want 2 (micro-batch, update)", n)
	}
	a, err := big.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	b, err := acc.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for what, pair := range map[string][2]map[string][]float32{"param": {a.Params, b.Params}, "momentum": {a.Momentum, b.Momentum}, "ema": {a.EMA, b.EMA}} {
		for _, sp := range l.Params() {
			d, s := maxDiff(pair[0][sp.Name], pair[1][sp.Name])
			if !(d <= 2e-5*s+1e-9) {
				t.Errorf("%s %s: batch 128 and 2 x 64 differ by %.3g (max |value| %.3g)", what, sp.Name, d, s)
			}
			worst = max(worst, d/max(s, 1e-30))
		}
	}
	moved, _ := maxDiff(a.Params["stem.conv1.weight"], w["stem.conv1.weight"])
	if moved == 0 {
		t.Fatal("the parameters did not move")
	}
	t.Logf("batch 128 vs 2 x 64 after 4 updates: worst relative difference %.3g", worst)
}

func maxDiff(a, b []float32) (d, scale float64) {
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	if len(a) != len(b) {
		return math.Inf(1), scale
	}
	return d, scale
}

// TestFreeze: frozen parameters stay bit-identical through training, their
// momentum zero and EMA themselves, and the recorded step computes no
// weight gradient for them: freezing the stem removes its convs' filter
// and bias gradients, and every backward pass into the stem.
func TestFreeze(t *testing.T) {
	l, w := fixtureModel(t)
	x, lab := randomBatch(9, 8, 1, 32, 10)
	xs, ls := [][]float32{x, x}, [][]int32{lab, lab}
	free := trainSteps(t, l, w, fineTuneRecipe, 8, 1, xs, ls)
	r := fineTuneRecipe
	r.Freeze = []string{"stem"}
	frozen := trainSteps(t, l, w, r, 8, 1, xs, ls)
	st, err := frozen.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	stem := 0
	for _, sp := range l.Params() {
		if !strings.HasPrefix(sp.Name, "stem.") {
			if d, _ := maxDiff(st.Params[sp.Name], w[sp.Name]); d == 0 && sp.Kind != nfnet.SkipGain {
				t.Errorf("%s did not move", sp.Name)
			}
			continue
		}
		stem++
		for j, v := range st.Params[sp.Name] {
			if math.Float32bits(v) != math.Float32bits(w[sp.Name][j]) || st.EMA[sp.Name][j] != v || st.Momentum[sp.Name][j] != 0 {
				t.Fatalf("frozen %s[%d] = %v (EMA %v, momentum %v), want %v", sp.Name, j, v, st.EMA[sp.Name][j], st.Momentum[sp.Name][j], w[sp.Name][j])
			}
		}
	}
	count := func(s *Session, op string) int {
		n := 0
		for _, d := range s.TrainProgram().Dispatches() {
			if strings.HasPrefix(d.Label, op) {
				n++
			}
		}
		return n
	}
	convs := 0
	for _, sl := range l.Stem.Layers {
		_ = sl
		convs++
	}
	for _, op := range []string{"conv2d backward filter", "conv2d backward bias"} {
		if a, b := count(free, op), count(frozen, op); a-b != convs {
			t.Errorf("%s: %d dispatches trained, %d with the stem (%d convs) frozen", op, a, b, convs)
		}
	}
	if a, b := count(free, "conv2d backward data"), count(frozen, "conv2d backward data"); !(b < a) {
		t.Errorf("conv2d backward data: %d dispatches trained, %d frozen: the stem's backward was not pruned", a, b)
	}
	t.Logf("%d stem tensors frozen; dispatches %d -> %d", stem, free.TrainProgram().Len(), frozen.TrainProgram().Len())
}

// TestHeadLRMult: with a head multiplier of 3 (no momentum, weight decay
// or clipping, so an update is -lr*grad) the classifier moves 3 times as
// far as with none, and every other parameter the same.
func TestHeadLRMult(t *testing.T) {
	l, w := fixtureModel(t)
	x, lab := randomBatch(5, 8, 1, 32, 10)
	r := agc.Recipe{Epochs: 1, LR: 0.05, EMADecay: 0.9}
	one := trainSteps(t, l, w, r, 8, 1, [][]float32{x}, [][]int32{lab})
	r.HeadLRMult = 3
	three := trainSteps(t, l, w, r, 8, 1, [][]float32{x}, [][]int32{lab})
	p1, err := one.Params()
	if err != nil {
		t.Fatal(err)
	}
	p3, err := three.Params()
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range l.Params() {
		head := sp.Name == l.Head.Weight || sp.Name == l.Head.Bias
		for j, v0 := range w[sp.Name] {
			d1, d3 := float64(p1[sp.Name][j]-v0), float64(p3[sp.Name][j]-v0)
			switch {
			case head && math.Abs(d3-3*d1) > 1e-6+1e-3*math.Abs(d3):
				t.Fatalf("%s[%d]: moved %g with mult 3, %g without", sp.Name, j, d3, d1)
			case !head && p1[sp.Name][j] != p3[sp.Name][j]:
				t.Fatalf("%s[%d]: %v with a head multiplier, %v without", sp.Name, j, p3[sp.Name][j], p1[sp.Name][j])
			}
		}
	}
}

// TestMaxStepsThenResume stops a run mid-epoch at Options.MaxSteps (a
// metrics line for the partial epoch, a checkpoint at that step), then
// resumes it to the end: every loss and every epoch's metrics equal an
// uninterrupted run's to the bit (the partial line is replaced).
func TestMaxStepsThenResume(t *testing.T) {
	k := loopKernels(t)
	tr, te := blobs(256, 5), blobs(64, 6)
	ctx := context.Background()
	full := tinyOptions(t, k, tr, te, 2, 32) // 8 steps per epoch
	var want []float32
	full.OnStep = func(_ int64, loss float32) { want = append(want, loss) }
	wres, err := Train(ctx, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	part := tinyOptions(t, k, tr, te, 2, 32)
	part.MaxSteps = 5
	var got []float32
	part.OnStep = func(_ int64, loss float32) { got = append(got, loss) }
	sres, err := Train(ctx, part, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sres.Stopped || sres.Interrupted || sres.Step != 5 || len(sres.Metrics) != 1 || sres.Metrics[0].Step != 5 {
		t.Fatalf("stopped run: %+v, want stopped at step 5 with one metrics line", sres)
	}
	ck, err := LoadCheckpoint(sres.Checkpoint)
	if err != nil || ck.Step != 5 {
		t.Fatalf("checkpoint %v at step %d, want step 5", err, ck.Step)
	}
	res := Options{Kernels: k, Train: tr, Test: te, Resume: sres.Dir}
	res.OnStep = func(_ int64, loss float32) { got = append(got, loss) }
	rres, err := Train(ctx, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, got, want, rres.Metrics, wres.Metrics)
}

// TestInitReadBack starts a 5-class session of the timm fixture model from
// the 10-class fixture file (LoadInit) and reads the state back from the
// device before any step: the classifier is nfnet.Init's, every other
// tensor the file's, bit for bit.
func TestInitReadBack(t *testing.T) {
	fx := loadSmallFixture(t)
	cfg := fx.l.Config
	cfg.NumClasses = 5
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := LoadInit(fixtures.Path(t, "small_params.safetensors"), l, InitOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(context.Background(), l, SessionOptions{Kernels: loopKernels(t),
		Train: nfnet.TrainOptions{Batch: 2, Height: 32, Width: 32, Recipe: fineTuneRecipe}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetState(State{Params: w}); err != nil {
		t.Fatal(err)
	}
	st, err := s.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := nfnet.Init(l.Params(), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, sp := range l.Params() {
		want := fx.weights[sp.Name]
		if sp.Name == l.Head.Weight || sp.Name == l.Head.Bias {
			want = fresh[i]
		}
		for j, v := range st.Params[sp.Name] {
			if math.Float32bits(v) != math.Float32bits(want[j]) {
				t.Fatalf("%s[%d] = %v on the device, want %v", sp.Name, j, v, want[j])
			}
		}
	}
}
