package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/nfnet"
)

// The model space on the device against the CPU references: the configs
// of timm's NfCfg nfvk supports, and a full F0 step.

// newParitySession records the training step of l for batches of shape
// xs with the recipe's optimizer and sets the weights.
func newParitySession(t *testing.T, ctx context.Context, l *nfnet.Layout, w map[string][]float32, xs []int, o agc.Recipe) (*Session, *gpu.Executable) {
	t.Helper()
	s, err := NewSession(ctx, l, SessionOptions{Kernels: loopKernels(t),
		Train: nfnet.TrainOptions{Batch: xs[0], Height: xs[2], Width: xs[3], LabelSmoothing: 0.1, Recipe: o}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.SetState(State{Params: w}); err != nil {
		t.Fatal(err)
	}
	return s, s.train.(gpuExec).Executable
}

func int32Labels(labels []int64) []int32 {
	out := make([]int32, len(labels))
	for i, c := range labels {
		out[i] = int32(c)
	}
	return out
}

// configSpaceBase is a small timm-style NFNet that each config-space case
// varies.
func configSpaceBase() nfnet.Config {
	c := nfnet.DefaultConfig()
	c.Name = "tiny"
	c.InChans, c.NumClasses = 3, 5
	c.Depths, c.Channels = []int{1, 1}, []int{16, 32}
	c.StemType, c.StemChs = "deep_quad", 16
	c.GroupSize = 4
	c.AttnLayer, c.AttnRdRatio = "se", 0.5
	c.NumFeatures = 48
	c.ExtraConv, c.Skipinit = true, true
	c.ActLayer, c.GammaInAct, c.SamePadding = "gelu", true, true
	return c
}

// configCase is one point of the NfCfg space and the input size it runs
// at.
type configCase struct {
	name string
	hw   int
	edit func(c *nfnet.Config)
}

var configCases = []configCase{
	{"gelu_erf_timm_ws_28", 28, func(c *nfnet.Config) {}},
	{"gelu_tanh_deepmind_ws_36_1ch_7cls", 36, func(c *nfnet.Config) {
		c.GeluApproximate = true
		c.StdConv, c.StdConvEps = nfnet.StdConvDeepMind, nfnet.DefaultDeepMindStdConvEps
		c.InChans, c.NumClasses = 1, 7
	}},
	{"relu_gamma_in_ws_3stages_28", 28, func(c *nfnet.Config) {
		c.ActLayer, c.GammaInAct = "relu", false
		c.Depths, c.Channels = []int{2, 1, 1}, []int{16, 24, 32}
	}},
	{"silu_deepmind_ws_gamma_folded_symmetric_deep_stem_28", 28, func(c *nfnet.Config) {
		c.ActLayer, c.GammaInAct = "silu", false
		c.StdConv, c.StdConvEps = nfnet.StdConvDeepMind, nfnet.DefaultDeepMindStdConvEps
		c.SamePadding = false
		c.StemType = "deep"
	}},
	{"plain_blocks_3x3_stem_ungrouped_36", 36, func(c *nfnet.Config) {
		c.AttnLayer, c.Skipinit, c.ExtraConv, c.NumFeatures = "", false, false, 0
		c.StemType, c.GroupSize, c.NumClasses = "3x3", 0, 3
	}},
	{"reg_tiered_stem_width_1.5_drop_timm_36", 36, func(c *nfnet.Config) {
		c.Reg, c.StemType, c.WidthFactor = true, "deep_tiered", 1.5
		c.DropRate, c.DropPathRate, c.DropPathMode = 0.1, 0.2, nfnet.DropPathTimm
		c.Depths = []int{1, 2}
	}},
	{"7x7_stem_deepmind_names_droppath_28", 28, func(c *nfnet.Config) {
		c.StemType, c.ParamNames = "7x7", nfnet.NamesDeepMind
		c.DropPathRate, c.DropPathMode = 0.2, nfnet.DropPathDeepMind
		c.Depths, c.Channels, c.GroupSize = []int{1, 2}, []int{24, 32}, 8
	}},
}

// perturbedInit is nfnet's init with every skip gain 0.5, every WS gain
// 1 + 0.1 randn and every bias 0.02 randn, as the timm fixture does, so
// that every branch carries signal and gradient.
func perturbedInit(t *testing.T, specs []nfnet.ParamSpec, seed uint64) map[string][]float32 {
	t.Helper()
	vals, err := nfnet.Init(specs, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	out := map[string][]float32{}
	for i, s := range specs {
		v := vals[i]
		for j := range v {
			switch s.Kind {
			case nfnet.SkipGain:
				v[j] = 0.5
			case nfnet.Gain:
				v[j] = float32(1 + 0.1*r.NormFloat64())
			case nfnet.Bias:
				v[j] = float32(0.02 * r.NormFloat64())
			}
		}
		out[s.Name] = v
	}
	return out
}

// batch returns n seeded normal images and labels i mod classes.
func batch(seed uint64, n, c, hw, classes int) ([]float32, []int, []int64) {
	r := rand.New(rand.NewPCG(seed, 5))
	x := make([]float32, n*c*hw*hw)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % classes)
	}
	return x, []int{n, c, hw, hw}, labels
}

// recipe is the spec's optimizer with a learning rate for a tiny batch
// and AGC loose enough to let a few steps make progress; the classifier
// is excluded from AGC by its name in either naming convention.
func recipe(l *nfnet.Layout, units agc.UnitRule) agc.Recipe {
	return agc.Recipe{Epochs: 1, LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, AGCClip: 0.1, AGCEps: 1e-3,
		AGCExclude: []string{l.Head.Weight, l.Head.Bias}, AGCUnits: units, AGCSkipGains: true}
}

// TestConfigSpace builds each config and checks, on the device against
// the CPU references (which share no code with the kernels), the eval
// logits, the train-mode loss and every gradient at perturbed initial
// weights and the parameters after one AGC+SGD step; then trains the
// recorded step for 8 replays on a fixed batch and requires the loss to
// fall.
func TestConfigSpace(t *testing.T) {
	k := loopKernels(t)
	ctx := context.Background()
	for i, cc := range configCases {
		t.Run(cc.name, func(t *testing.T) {
			start := time.Now()
			cfg := configSpaceBase()
			cc.edit(&cfg)
			l, err := nfnet.NewLayout(cfg)
			if err != nil {
				t.Fatal(err)
			}
			specs := l.Params()
			w := perturbedInit(t, specs, uint64(i+1))
			x, xs, labels := batch(uint64(i+1), 4, cfg.InChans, cc.hw, cfg.NumClasses)
			units := agc.Timm
			if i%2 == 1 {
				units = agc.DeepMind
			}
			o := ParityOptions{Grad: true, LabelSmoothing: 0.1, Steps: 1, Recipe: recipe(l, units), Seed: 7}
			gpu, err := Parity(ctx, k, l, w, x, xs, labels, o)
			if err != nil {
				t.Fatal(err)
			}
			cpu, err := Parity(ctx, nil, l, w, x, xs, labels, o)
			if err != nil {
				t.Fatal(err)
			}
			d, s := maxAbsDiff(t, "logits", gpu.Logits, cpu.Logits)
			if !(d <= 1e-5+1e-5*s) {
				t.Errorf("logits: GPU vs CPU max error %.3g (max |logit| %.3g)", d, s)
			}
			if d := math.Abs(float64(gpu.Loss - cpu.Loss)); !(d <= 1e-5) {
				t.Errorf("loss: GPU %v, CPU %v", gpu.Loss, cpu.Loss)
			}
			worstG, worstP := 0.0, 0.0
			for _, sp := range specs {
				d, s := maxAbsDiff(t, sp.Name, gpu.Grads[sp.Name], cpu.Grads[sp.Name])
				if !(d <= 1e-3*s) {
					t.Errorf("grad %s: GPU vs CPU max error %.3g > 1e-3 * %.3g", sp.Name, d, s)
				}
				worstG = max(worstG, d/max(s, 1e-30))
				d, s = maxAbsDiff(t, sp.Name, gpu.Params[sp.Name], cpu.Params[sp.Name])
				if !(d <= 1e-5+1e-6*s) {
					t.Errorf("param %s after one step: GPU vs CPU max error %.3g", sp.Name, d)
				}
				worstP = max(worstP, d)
			}
			t.Logf("%s at %dx%d, %d params: GPU vs CPU logits %.3g, loss %.3g, grads (relative) %.3g, params %.3g",
				cfg.Name, cc.hw, cc.hw, nfnet.CountParams(specs), d, math.Abs(float64(gpu.Loss-cpu.Loss)), worstG, worstP)

			losses := trainLosses(t, ctx, l, w, x, xs, labels, recipe(l, units), 8)
			if !(losses[len(losses)-1] < losses[0]) {
				t.Errorf("loss did not fall over %d steps: %v", len(losses), losses)
			}
			t.Logf("losses %v (%v)", losses, time.Since(start).Round(time.Millisecond))
		})
	}
}

// trainLosses replays one recorded GPU step n times on a batch.
func trainLosses(t *testing.T, ctx context.Context, l *nfnet.Layout, w map[string][]float32, x []float32, xs []int, labels []int64, o agc.Recipe, n int) []float32 {
	t.Helper()
	s, _ := newParitySession(t, ctx, l, w, xs, o)
	lab := int32Labels(labels)
	h := agc.Hyper{LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, WeightDecay: o.WeightDecay, Lambda: o.AGCClip, Eps: o.AGCEps}
	var losses []float32
	for i := 0; i < n; i++ {
		if err := s.Submit(x, lab, h, uint64(100+i)); err != nil {
			t.Fatal(err)
		}
		loss, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			t.Fatalf("step %d: loss %v", i, loss)
		}
		losses = append(losses, loss)
	}
	return losses
}

// TestF0TrainStep records and runs two full training steps of DeepMind's
// F0 (71.5M parameters; DeepMind WS, stochastic depth 0.25, dropout 0.2,
// AGC 0.01 with DeepMind's units, classifier excluded) at 64x64, batch 2,
// on the device. On lavapipe with two cores this takes tens of seconds
// and ~1.5 GB of memory, so -short skips it.
func TestF0TrainStep(t *testing.T) {
	if testing.Short() {
		t.Skip("a full F0 step on lavapipe takes tens of seconds; -short skips it")
	}
	ctx := context.Background()
	cfg, err := nfnet.Variant("f0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	specs := l.Params()
	vals, err := nfnet.Init(specs, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for i, s := range specs {
		w[s.Name] = vals[i]
	}
	x, _, labels := batch(3, 2, 3, 64, cfg.NumClasses)
	labels[1] = 999
	o := agc.Recipe{Epochs: 1, LR: agc.ScaleLR(0.1, 2), Momentum: 0.9, Nesterov: true, WeightDecay: 2e-5, AGCClip: 0.01,
		AGCExclude: []string{l.Head.Weight}, AGCUnits: agc.DeepMind, AGCSkipGains: true}
	start := time.Now()
	s, x2 := newParitySession(t, ctx, l, w, []int{2, 3, 64, 64}, o)
	t.Logf("F0: %d tensors, %d parameters; recorded in %v, arena %.1f MiB",
		len(specs), nfnet.CountParams(specs), time.Since(start).Round(time.Millisecond), float64(x2.Plan().PeakBytes)/(1<<20))
	lab := int32Labels(labels)
	h := agc.Hyper{LR: o.LR, Momentum: o.Momentum, Nesterov: true, WeightDecay: o.WeightDecay, Lambda: o.AGCClip}
	var losses []float32
	for i := 0; i < 2; i++ {
		start = time.Now()
		if err := s.Submit(x, lab, h, uint64(i)); err != nil {
			t.Fatal(err)
		}
		loss, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("step %d: loss %.5f in %v", i+1, loss, time.Since(start).Round(time.Millisecond))
		losses = append(losses, loss)
	}
	// At init the classifier is N(0, 0.01^2) over 3072 features of order
	// 1: logits of order 0.05, so the loss sits near ln(1000) = 6.91.
	for i, loss := range losses {
		if !(math.Abs(float64(loss)-math.Log(1000)) < 0.5) {
			t.Errorf("step %d loss %v, want near ln(1000) = %.3f", i+1, loss, math.Log(1000))
		}
	}
	params, err := s.Params()
	if err != nil {
		t.Fatal(err)
	}
	grads, err := s.Grads()
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, sp := range specs {
		p, g := params[sp.Name], grads[sp.Name]
		for j := range p {
			if math.IsNaN(float64(p[j])) || math.IsInf(float64(p[j]), 0) || math.IsNaN(float64(g[j])) || math.IsInf(float64(g[j]), 0) {
				t.Fatalf("%s[%d]: param %v, grad %v after two steps", sp.Name, j, p[j], g[j])
			}
		}
		same := true
		for j := range p {
			if p[j] != w[sp.Name][j] {
				same = false
				break
			}
		}
		if !same {
			changed++
			continue
		}
		// A tensor may stay put only when its whole update rounds away:
		// the skip gains are 0 in step 1, so branch tensors get their
		// first gradient in step 2, where the update is at most
		// lr*(1+m)*|g| (Nesterov from a zero buffer; AGC only shrinks
		// it), which must be below half an ulp of every value.
		gm, pm := 0.0, math.Inf(1)
		for j := range p {
			gm = max(gm, math.Abs(float64(g[j])))
			pm = min(pm, math.Abs(float64(p[j])))
		}
		if upd := o.LR * (1 + o.Momentum) * gm; !(upd < pm*0x1p-24) || sp.Kind == nfnet.SkipGain {
			t.Errorf("%s %v unchanged after two steps, yet its update %.3g (max |grad| %.3g) exceeds half an ulp of min |value| %.3g",
				sp.Name, sp.Shape, upd, gm, pm)
		}
	}
	t.Logf("%d of %d tensors changed; the others' updates are below float32 resolution", changed, len(specs))
}
