package kernels

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
)

// Tolerances of the optimizer tests, against agc.SGD.Step (float64
// arithmetic, one float32 rounding per stored value).
//
// optEps bounds the relative error of one step's update terms. The GPU
// sums squares in fp32: per invocation ceil(size/(4*L)) terms per vec4
// lane, 3 adds over the lanes, then L adds (flat sum, L <= 64) or log2(L)
// (tree, L > 64). For the units here (<= 1536 elements) and any workgroup
// size L from 8 (lavapipe: one subgroup) to 256 that is a chain of at
// most k = 6+3+64 = 73 adds (L = 64; L = 8 gives 48+3+8 = 59), relative
// error <= k*2^-24 = 4.4e-6 on a sum of squares, half that on its square
// root. The clip factor divides two such
// norms: <= 4.4e-6, plus a few roundings of the update arithmetic
// (<= 4*2^-24 = 2.4e-7). 1e-5 is that worst case with a 2x margin. It
// multiplies the forward-error magnitude of each element: the same
// recurrence as the update run on absolute values (|g_c| + wd|p|, then
// momentum and lr), so elements whose terms cancel are not held to a
// bound relative to their tiny result.
//
// On top, each step may round a stored value (p, buf) to a neighbouring
// float32 on the two sides: ulp(x) <= 2^-23|x| per step, summed over the
// steps.
const (
	optEps  = 1e-5
	optUlp  = 0x1p-23
	optLam  = 0.05 // AGC lambda of the tests
	optEpsW = 1e-3 // AGC eps (the spec's)
)

// optParam is one parameter tensor of the tests, one per shape class of
// an NFNet (nfnet/params.go): WeightDecay as nfnet sets it.
type optParam struct {
	name  string
	shape []int
	wd    bool
	init  string // "w" random weights, "gain" 1+noise, "zero"
}

var optParams = []optParam{
	{"stem.conv1.weight", []int{16, 3, 3, 3}, true, "w"},               // conv OIHW, 27-element units (scalar path)
	{"stages.0.0.conv2.weight", []int{48, 32, 3, 3}, true, "w"},        // conv OIHW, 288-element units (vec4)
	{"stages.0.0.conv2.gain", []int{48, 1, 1, 1}, false, "gain"},       // gain: 1 unit (DeepMind) or 48 (timm)
	{"stages.0.0.conv2.bias", []int{48}, false, "w"},                   // bias (O,)
	{"stages.0.0.conv1.bias", []int{13}, false, "zero"},                // zero-init bias, odd length: ||W|| < eps
	{"stages.0.0.skipinit_gain", []int{}, false, "zero"},               // 0-d skip gain, zero-init
	{"stages.0.0.attn_last.fc1.weight", []int{8, 48, 1, 1}, true, "w"}, // SE 1x1 conv
	{"stages.0.0.attn_last.fc1.bias", []int{8}, false, "w"},
	{"final_conv.weight", []int{24, 1536, 1, 1}, true, "w"}, // unit larger than a workgroup's vec4 sweep
	{"head.fc.weight", []int{10, 24}, true, "w"},            // linear (O,I), excluded from AGC
	{"head.fc.bias", []int{10}, false, "w"},                 // excluded from AGC
}

var optExclude = []string{"head.fc.weight", "head.fc.bias"}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// optInit returns the initial values of a parameter.
func optInit(p optParam, seed uint64) []float32 {
	n := numelOf(p.shape)
	switch p.init {
	case "zero":
		return make([]float32, n)
	case "gain":
		v := randn(seed, n, 0.1)
		for i := range v {
			v[i]++
		}
		return v
	}
	return randn(seed, n, 0.1)
}

// optGrad returns a gradient for param value w: per unit of rule, random
// with norm f*lambda*max(||W_u||, eps), f = exp(U(-1.5, 1.5)), so about
// half the units clip, some by a lot.
func optGrad(w []float32, shape []int, rule agc.UnitRule, seed uint64) []float32 {
	units, size, err := agc.Units(shape, rule)
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(seed, 11))
	g := randn(seed^0x9e37, len(w), 1)
	for u := 0; u < units; u++ {
		var pw, gw float64
		for i := u * size; i < (u+1)*size; i++ {
			pw += float64(w[i]) * float64(w[i])
			gw += float64(g[i]) * float64(g[i])
		}
		f := math.Exp(3*r.Float64() - 1.5)
		s := f * optLam * math.Max(math.Sqrt(pw), optEpsW) / math.Sqrt(gw)
		for i := u * size; i < (u+1)*size; i++ {
			g[i] = float32(float64(g[i]) * s)
		}
	}
	return g
}

// optState is the CPU reference's state of one tensor plus the
// tolerance bounds accumulated over the steps.
type optState struct {
	p, buf []float32
	// magBuf and magP are the forward-error magnitudes (see optEps);
	// ulpP and ulpBuf sum |x| over the steps (rounding, see optUlp).
	magBuf, magP, ulpP, ulpBuf []float64
}

func newOptState(p []float32) *optState {
	n := len(p)
	return &optState{p: append([]float32(nil), p...), buf: make([]float32, n),
		magBuf: make([]float64, n), magP: make([]float64, n), ulpP: make([]float64, n), ulpBuf: make([]float64, n)}
}

// refStep runs agc.SGD.Step on the states and advances their bounds.
// It returns the reference's statistics.
func refStep(t *testing.T, s agc.SGD, params []optParam, states []*optState, grads [][]float32) agc.StepStats {
	t.Helper()
	ps := make([]agc.Param, len(params))
	old := make([][]float32, len(params))
	for i, p := range params {
		old[i] = append([]float32(nil), states[i].p...)
		ps[i] = agc.Param{Name: p.name, Shape: p.shape, Value: states[i].p, Grad: append([]float32(nil), grads[i]...),
			Momentum: states[i].buf, WeightDecay: p.wd}
	}
	stats, err := s.Step(ps)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range params {
		st := states[i]
		wd := 0.0
		if p.wd {
			wd = s.WeightDecay
		}
		for j := range st.p {
			// ps[i].Grad holds the clipped gradient.
			a := math.Abs(float64(ps[i].Grad[j])) + wd*math.Abs(float64(old[i][j]))
			geff := a
			if s.Momentum != 0 {
				st.magBuf[j] = s.Momentum*st.magBuf[j] + a
				st.ulpBuf[j] += math.Abs(float64(st.buf[j]))
				geff = st.magBuf[j]
				if s.Nesterov {
					geff = a + s.Momentum*st.magBuf[j]
				}
			}
			st.magP[j] += s.LR * geff
			st.ulpP[j] += math.Abs(float64(st.p[j]))
		}
	}
	return stats
}

// checkBound fails where |got-want| > bound.
func checkBound(t *testing.T, what string, got, want []float32, bound func(i int) float64) {
	t.Helper()
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= bound(i)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > bound %.3g)", what, i, got[i], want[i], d, bound(i))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(want))
	}
}

func (st *optState) check(t *testing.T, what string, gotP, gotBuf []float32) {
	t.Helper()
	checkBound(t, what+" param", gotP, st.p, func(i int) float64 { return optEps*st.magP[i] + optUlp*st.ulpP[i] })
	checkBound(t, what+" momentum", gotBuf, st.buf, func(i int) float64 { return optEps*st.magBuf[i] + optUlp*st.ulpBuf[i] })
}

// newHyper allocates a hyper buffer freed at the end of the test.
func newHyper(t *testing.T, d *engine.Device) engine.Span {
	t.Helper()
	b, err := d.NewBuffer("hyper", HyperBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	return b.Span()
}

// optConfig is one optimizer setting of the matrix.
type optConfig struct {
	rule     agc.UnitRule
	momentum string // "nesterov", "plain", "none"
	agc      bool   // false: Clip nil, so the hyper buffer's lambda is 0
	wd       float64
}

func (c optConfig) String() string {
	return fmt.Sprintf("%v/%s/agc=%v/wd=%g", c.rule, c.momentum, c.agc, c.wd)
}

func (c optConfig) sgd(lr float64) agc.SGD {
	s := agc.SGD{LR: lr, WeightDecay: c.wd, Exclude: optExclude}
	switch c.momentum {
	case "nesterov":
		s.Momentum, s.Nesterov = 0.9, true
	case "plain":
		s.Momentum = 0.9
	}
	if c.agc {
		s.Clip = &agc.Clipper{Lambda: optLam, Eps: optEpsW, Rule: c.rule}
	}
	return s
}

// optLRs are the learning rates of the 3 steps: they change, so a replay
// that ignored the hyper buffer would fail.
var optLRs = []float64{0.1, 0.4, 0.025}

// optTensor returns the OptimTensor of p over the given spans.
func optTensor(t *testing.T, p optParam, rule agc.UnitRule, param, grad, mom engine.Span) OptimTensor {
	t.Helper()
	units, err := UnitsOf(p.shape, rule)
	if err != nil {
		t.Fatal(err)
	}
	excluded := false
	for _, e := range optExclude {
		excluded = excluded || e == p.name
	}
	return OptimTensor{Name: p.name, Shape: p.shape, Param: param, Grad: grad, Momentum: mom,
		WeightDecay: p.wd, AGC: !excluded, Units: units}
}

// TestOptimStep runs 3 steps of one dispatch per tensor, the program
// recorded once and replayed with the hyper buffer rewritten and new
// gradients uploaded each step, against agc.SGD.Step over every shape
// class, both unit rules, Nesterov/plain/no momentum, AGC on (classifier
// excluded) and off, with and without weight decay.
func TestOptimStep(t *testing.T) {
	d, k := testDevice(t)
	for _, rule := range []agc.UnitRule{agc.DeepMind, agc.Timm} {
		for _, mom := range []string{"nesterov", "plain", "none"} {
			for _, on := range []bool{true, false} {
				for _, wd := range []float64{0, 0.05} {
					c := optConfig{rule, mom, on, wd}
					t.Run(c.String(), func(t *testing.T) { runOptimConfig(t, d, k, c) })
				}
			}
		}
	}
}

func runOptimConfig(t *testing.T, d *engine.Device, k *Kernels, c optConfig) {
	hyper := newHyper(t, d)
	states := make([]*optState, len(optParams))
	pb, gb, mb := make([]*engine.Buffer, len(optParams)), make([]*engine.Buffer, len(optParams)), make([]*engine.Buffer, len(optParams))
	prog := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer prog.Close()
	for i, p := range optParams {
		w := optInit(p, uint64(100+i))
		states[i] = newOptState(w)
		pb[i], gb[i], mb[i] = upload(t, d, w), upload(t, d, nans(len(w))), upload(t, d, make([]float32, len(w)))
		if err := k.OptimizerStep(prog, optTensor(t, p, c.rule, pb[i].Span(), gb[i].Span(), mb[i].Span()), hyper); err != nil {
			t.Fatal(err)
		}
	}
	if prog.Len() != len(optParams) {
		t.Fatalf("%d dispatches for %d tensors, want one each", prog.Len(), len(optParams))
	}
	clipped := 0
	for step, lr := range optLRs {
		s := c.sgd(lr)
		grads := make([][]float32, len(optParams))
		for i, p := range optParams {
			grads[i] = optGrad(states[i].p, p.shape, c.rule, uint64(1000*step+i))
			if err := engine.Upload(gb[i], grads[i]); err != nil {
				t.Fatal(err)
			}
		}
		h := s.Hyper()
		h.Step = int64(step)
		if err := WriteHyper(hyper, h); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		stats := refStep(t, s, optParams, states, grads)
		clipped += stats.ClippedUnits
		for i, p := range optParams {
			states[i].check(t, fmt.Sprintf("step %d %s", step, p.name), download(t, pb[i]), download(t, mb[i]))
		}
	}
	// The data must exercise both sides of the clip condition.
	if c.agc && clipped == 0 {
		t.Errorf("no unit clipped in 3 steps: the test does not exercise AGC")
	}
}

// TestOptimWorkgroupSizes reruns configurations of TestOptimStep with the
// workgroup sizes of other device classes, so the flat sum over several
// subgroups (16, 64) and the tree (256, the GPU classes) are checked on
// lavapipe too, which otherwise runs one subgroup (8) per workgroup.
func TestOptimWorkgroupSizes(t *testing.T) {
	d, k := testDevice(t)
	for _, l := range []uint32{16, 64, 256} {
		if l > d.Info().MaxWorkgroupInvocs {
			continue
		}
		optLocalOverride = l
		t.Cleanup(func() { optLocalOverride = 0 })
		for _, c := range []optConfig{{agc.Timm, "nesterov", true, 0.05}, {agc.DeepMind, "plain", true, 0.05}} {
			t.Run(fmt.Sprintf("L=%d/%v", l, c), func(t *testing.T) {
				if got := k.optLocal(); got != l {
					t.Fatalf("workgroup size %d, want %d", got, l)
				}
				runOptimConfig(t, d, k, c)
			})
		}
	}
}

// packed lays tensors out back to back in one buffer with the given
// padding (in elements) before each: pads that are not multiples of 4
// give offsets of every residue mod 4 (the scalar path); with align4 each
// tensor starts on a multiple of 4 elements (the vec4 path at nonzero
// offsets).
type packed struct {
	buf  *engine.Buffer
	offs []int // element offsets
}

func pack(t *testing.T, d *engine.Device, sizes, pads []int, align4 bool) packed {
	t.Helper()
	var pk packed
	n := 0
	for i, s := range sizes {
		n += pads[i%len(pads)]
		if align4 {
			n = (n + 3) &^ 3
		}
		pk.offs = append(pk.offs, n)
		n += s
	}
	pk.buf = upload(t, d, nans(n))
	return pk
}

func (pk packed) span(i, n int) engine.Span {
	return pk.buf.Span().Sub(int64(4*pk.offs[i]), int64(4*n))
}

func (pk packed) write(t *testing.T, i int, v []float32) {
	t.Helper()
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	if err := pk.buf.Write(int64(4*pk.offs[i]), b); err != nil {
		t.Fatal(err)
	}
}

// TestOptimStepsBatched runs every tensor in one dispatch through the
// offsets table, params and momentum interleaved in one buffer and the
// gradients in another, at offsets of every residue mod 4 (so vec4 and
// scalar paths mix in one grid), plus a linear layer with more AGC units
// than the dispatch has workgroups (grid-stride), over 3 replayed steps.
func TestOptimStepsBatched(t *testing.T) {
	d, k := testDevice(t)
	params := append([]optParam{{"many_units.weight", []int{16500, 20}, true, "w"}}, optParams...)
	for _, c := range []struct {
		optConfig
		align4 bool
	}{{optConfig{agc.Timm, "nesterov", true, 0.05}, false}, {optConfig{agc.DeepMind, "plain", true, 0.05}, true}} {
		t.Run(fmt.Sprintf("%v/align4=%v", c.optConfig, c.align4), func(t *testing.T) {
			hyper := newHyper(t, d)
			var sizes []int
			for _, p := range params {
				n := numelOf(p.shape)
				sizes = append(sizes, n, n) // param i, momentum i
			}
			state := pack(t, d, sizes, []int{0, 1, 3, 0, 2, 5, 4}, c.align4)
			gsizes := make([]int, len(params))
			for i := range params {
				gsizes[i] = sizes[2*i]
			}
			grads := pack(t, d, gsizes, []int{2, 0, 1, 4, 3}, c.align4)
			table, err := d.NewBuffer("table", OptimTableBytes(len(params)))
			if err != nil {
				t.Fatal(err)
			}
			defer table.Free()
			states := make([]*optState, len(params))
			ts := make([]OptimTensor, len(params))
			for i, p := range params {
				n := numelOf(p.shape)
				w := optInit(p, uint64(200+i))
				states[i] = newOptState(w)
				state.write(t, 2*i, w)
				state.write(t, 2*i+1, make([]float32, n))
				ts[i] = optTensor(t, p, c.rule, state.span(2*i, n), grads.span(i, n), state.span(2*i+1, n))
			}
			if ts[0].Units <= int(k.optGroups(math.MaxUint32)) {
				t.Fatalf("%d units do not exceed the %d workgroups: no grid-stride", ts[0].Units, k.optGroups(math.MaxUint32))
			}
			prog := d.NewProgram(t.Name(), engine.ProgramOptions{})
			defer prog.Close()
			if err := k.OptimizerSteps(prog, ts, hyper, table.Span()); err != nil {
				t.Fatal(err)
			}
			if prog.Len() != 1 {
				t.Fatalf("%d dispatches, want 1", prog.Len())
			}
			for step, lr := range optLRs {
				s := c.sgd(lr)
				gs := make([][]float32, len(params))
				for i, p := range params {
					gs[i] = optGrad(states[i].p, p.shape, c.rule, uint64(3000*step+i))
					grads.write(t, i, gs[i])
				}
				if err := WriteHyper(hyper, s.Hyper()); err != nil {
					t.Fatal(err)
				}
				if err := prog.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if stats := refStep(t, s, params, states, gs); stats.ClippedUnits == 0 {
					t.Errorf("step %d: no unit clipped", step)
				}
				all := download(t, state.buf)
				for i, p := range params {
					n := numelOf(p.shape)
					o, om := state.offs[2*i], state.offs[2*i+1]
					states[i].check(t, fmt.Sprintf("step %d %s", step, p.name), all[o:o+n], all[om:om+n])
				}
			}
		})
	}
}

// optDelta is the relative distance of the boundary cases from the clip
// threshold: ||G|| = (1 +- optDelta) * lambda*max(||W||, eps). The GPU's
// fp32 norms and factor are within 4.4e-6 relative of the float64 ones
// (see optEps), so 1e-4 (20x that, ~1700 float32 ulps) decides the
// condition the same way in both, while staying far below anything a
// wrong rule produces (a missing eps floor, norms over the wrong axis, an
// inverted condition, squared norms).
const optDelta = 1e-4

// boundaryTensor builds values w and gradient g: unit u has parameter norm
// pn[u] and gradient norm (1 + sign[u]*optDelta)*lambda*max(pn[u], eps),
// checked again in float64 after rounding to float32.
func boundaryTensor(t *testing.T, units, size int, pn []float64, sign []float64, seed uint64) (w, g []float32) {
	t.Helper()
	w, g = randn(seed, units*size, 1), randn(seed+1, units*size, 1)
	for u := 0; u < units; u++ {
		wu, gu := w[u*size:(u+1)*size], g[u*size:(u+1)*size]
		if pn[u] == 0 {
			clear(wu)
		} else {
			scaleTo(wu, pn[u])
		}
		scaleTo(gu, (1+sign[u]*optDelta)*optLam*math.Max(norm64(wu), optEpsW))
		// The realised margin after float32 rounding.
		r := norm64(gu)/(optLam*math.Max(norm64(wu), optEpsW)) - 1
		if math.Abs(r-sign[u]*optDelta) > optDelta/100 {
			t.Fatalf("unit %d: margin %g after rounding, want %g", u, r, sign[u]*optDelta)
		}
	}
	return w, g
}

func norm64(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func scaleTo(x []float32, n float64) {
	s := n / norm64(x)
	for i := range x {
		x[i] = float32(float64(x[i]) * s)
	}
}

// TestOptimClipBoundary puts units just above and just below the clip
// threshold, with parameter norms above eps and below it (where the eps
// floor decides), for a conv weight (DeepMind and timm rules agree: a
// workgroup per unit), a gain under timm's rule (one element per unit:
// the one-invocation path) and a bias (one whole-tensor unit), in single
// and batched dispatches. With momentum 0.9, a zero momentum buffer and
// no weight decay the new buffer is exactly the clipped gradient, so the
// decision is read directly: below the threshold the buffer must equal
// the gradient bit for bit; above it, the gradient times
// lambda*max(||W||,eps)/||G||.
func TestOptimClipBoundary(t *testing.T) {
	d, k := testDevice(t)
	type tc struct {
		name  string
		shape []int
		rule  agc.UnitRule
	}
	cases := []tc{
		{"conv.weight", []int{8, 4, 3, 3}, agc.DeepMind},
		{"conv.gain", []int{8, 1, 1, 1}, agc.Timm},
		{"bias.above", []int{40}, agc.DeepMind},
		{"bias.below", []int{40}, agc.Timm},
		{"bias.eps.above", []int{40}, agc.Timm},
		{"bias.eps.below", []int{40}, agc.DeepMind},
	}
	type data struct {
		w, g  []float32
		scale []float64 // expected factor per unit; 1 = not clipped
		size  int
	}
	build := func(c tc, i int) data {
		units, size, err := agc.Units(c.shape, c.rule)
		if err != nil {
			t.Fatal(err)
		}
		pn, sign := make([]float64, units), make([]float64, units)
		for u := range pn {
			// Norms cycle: above eps, below it (eps floor), exactly zero.
			pn[u] = [...]float64{0.7, 0.3 * optEpsW, 0, 2.5}[u%4]
			sign[u] = float64(1 - 2*((u/4+u)%2))
		}
		if units == 1 {
			pn[0] = map[bool]float64{true: 0.4 * optEpsW, false: 0.9}[strings.Contains(c.name, ".eps")]
			sign[0] = map[bool]float64{true: 1, false: -1}[strings.HasSuffix(c.name, ".above")]
		}
		w, g := boundaryTensor(t, units, size, pn, sign, uint64(50+i))
		sc := make([]float64, units)
		for u := range sc {
			sc[u] = 1
			if sign[u] > 0 {
				wn := norm64(w[u*size : (u+1)*size])
				sc[u] = optLam * math.Max(wn, optEpsW) / norm64(g[u*size:(u+1)*size])
			}
		}
		return data{w, g, sc, size}
	}
	check := func(t *testing.T, c tc, dt data, gotBuf []float32) {
		t.Helper()
		for j, gv := range dt.g {
			s := dt.scale[j/dt.size]
			if s == 1 {
				if gotBuf[j] != gv {
					t.Errorf("%s[%d]: below the threshold, clipped to %v, want %v unchanged", c.name, j, gotBuf[j], gv)
				}
				continue
			}
			want := float64(gv) * s
			if math.Abs(float64(gotBuf[j])-want) > optEps*math.Abs(want) {
				t.Errorf("%s[%d]: above the threshold: %v, want %v (factor %v)", c.name, j, gotBuf[j], want, s)
			}
		}
	}
	s := agc.SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, Clip: &agc.Clipper{Lambda: optLam, Eps: optEpsW}}
	t.Run("single", func(t *testing.T) {
		hyper := newHyper(t, d)
		if err := WriteHyper(hyper, s.Hyper()); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			dt := build(c, i)
			units, _ := UnitsOf(c.shape, c.rule)
			pb, gb, mb := upload(t, d, dt.w), upload(t, d, dt.g), upload(t, d, make([]float32, len(dt.w)))
			runProgram(t, k, func(p *engine.Program) error {
				return k.OptimizerStep(p, OptimTensor{Name: c.name, Shape: c.shape, Param: pb.Span(), Grad: gb.Span(),
					Momentum: mb.Span(), AGC: true, Units: units}, hyper)
			})
			check(t, c, dt, download(t, mb))
			// Cross-check the expectation with the CPU reference.
			ref := append([]float32(nil), dt.g...)
			sc := *s.Clip
			sc.Rule = c.rule
			if _, err := sc.Clip(dt.w, ref, c.shape); err != nil {
				t.Fatal(err)
			}
			check(t, c, dt, ref)
		}
	})
	t.Run("batched", func(t *testing.T) {
		hyper := newHyper(t, d)
		if err := WriteHyper(hyper, s.Hyper()); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		ds := make([]data, len(cases))
		for i, c := range cases {
			ds[i] = build(c, i)
			sizes = append(sizes, len(ds[i].w))
		}
		ps, gs, ms := pack(t, d, sizes, []int{1, 0}, false), pack(t, d, sizes, []int{0, 3}, false), pack(t, d, sizes, []int{2}, false)
		ts := make([]OptimTensor, len(cases))
		for i, c := range cases {
			n := len(ds[i].w)
			ps.write(t, i, ds[i].w)
			gs.write(t, i, ds[i].g)
			ms.write(t, i, make([]float32, n))
			units, _ := UnitsOf(c.shape, c.rule)
			ts[i] = OptimTensor{Name: c.name, Shape: c.shape, Param: ps.span(i, n), Grad: gs.span(i, n), Momentum: ms.span(i, n), AGC: true, Units: units}
		}
		table, err := d.NewBuffer("table", OptimTableBytes(len(ts)))
		if err != nil {
			t.Fatal(err)
		}
		defer table.Free()
		runProgram(t, k, func(p *engine.Program) error { return k.OptimizerSteps(p, ts, hyper, table.Span()) })
		all := download(t, ms.buf)
		for i, c := range cases {
			check(t, c, ds[i], all[ms.offs[i]:ms.offs[i]+len(ds[i].w)])
		}
	})
}

// TestOptimGradNormFloor checks the 1e-6 floor of the gradient norm in
// the clip factor, which the thresholds above never reach (lambda*eps is
// 5e-5): with eps 1e-8 and a zero parameter the threshold is 5e-10, and a
// gradient of norm 5e-7 must be scaled by 5e-10/1e-6, not 5e-10/5e-7.
func TestOptimGradNormFloor(t *testing.T) {
	d, k := testDevice(t)
	s := agc.SGD{LR: 0.1, Momentum: 0.9, Clip: &agc.Clipper{Lambda: optLam, Eps: 1e-8, Rule: agc.DeepMind}}
	hyper := newHyper(t, d)
	if err := WriteHyper(hyper, s.Hyper()); err != nil {
		t.Fatal(err)
	}
	shape := []int{32}
	g := randn(9, 32, 1)
	scaleTo(g, 5e-7)
	pb, gb, mb := upload(t, d, make([]float32, 32)), upload(t, d, g), upload(t, d, make([]float32, 32))
	runProgram(t, k, func(p *engine.Program) error {
		return k.OptimizerStep(p, OptimTensor{Name: "bias", Shape: shape, Param: pb.Span(), Grad: gb.Span(), Momentum: mb.Span(), AGC: true, Units: 1}, hyper)
	})
	ref := append([]float32(nil), g...)
	if _, err := s.Clip.Clip(make([]float32, 32), ref, shape); err != nil {
		t.Fatal(err)
	}
	got := download(t, mb) // = the clipped gradient: zero buffer, no weight decay
	for i := range g {
		want := float64(g[i]) * optLam * 1e-8 / 1e-6
		if math.Abs(float64(got[i])-want) > optEps*math.Abs(want) || math.Abs(float64(ref[i])-want) > optEps*math.Abs(want) {
			t.Errorf("[%d] = %v (CPU %v), want %v", i, got[i], ref[i], want)
		}
	}
}

// TestOptimEMA checks the EMA kernel against agc.EMAUpdate with DeepMind's
// warm-up decays and d = 0.99999, replayed with the decay rewritten. The
// kernel computes ema + (1-d)*(p - ema) in fp32 with 1-d rounded once from
// float64: p - ema, the product and the sum round once each, 1-d is
// within 2^-24 relative, and the reference rounds once: the difference is
// at most 4*2^-24*(|p| + |ema|) per step.
func TestOptimEMA(t *testing.T) {
	d, k := testDevice(t)
	const n = 1027 // not a multiple of 4: the scalar tail runs
	hyper := newHyper(t, d)
	p := randn(1, n, 1)
	ema := randn(2, n, 1)
	eb, pb := upload(t, d, ema), upload(t, d, p)
	prog := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer prog.Close()
	if err := k.EMAUpdate(prog, eb.Span(), pb.Span(), hyper); err != nil {
		t.Fatal(err)
	}
	ref := append([]float32(nil), ema...)
	for step, decay := range []float64{agc.EMADecay(0.99999, 0), agc.EMADecay(0.99999, 5), 0.99999, 0, 1} {
		prev := append([]float32(nil), ref...)
		if err := agc.EMAUpdate(ref, p, decay); err != nil {
			t.Fatal(err)
		}
		if err := WriteHyper(hyper, agc.Hyper{EMADecay: decay, Step: int64(step)}); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := download(t, eb)
		checkBound(t, fmt.Sprintf("ema d=%v", decay), got, ref, func(i int) float64 {
			return 0x1p-22 * (math.Abs(float64(p[i])) + math.Abs(float64(prev[i])))
		})
		// Carry the GPU's value, so each step's bound is for one step.
		copy(ref, got)
	}
}

// TestHyperLayout pins the documented byte layout of the hyper buffer.
func TestHyperLayout(t *testing.T) {
	b, err := agc.Hyper{LR: 0.5, Momentum: 0.9, Nesterov: true, WeightDecay: 2e-5, Lambda: 0.01, EMADecay: 0.99999, Step: 7}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != HyperBytes {
		t.Fatalf("%d bytes, want %d", len(b), HyperBytes)
	}
	f := func(off int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[off:])) }
	u := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	for _, c := range []struct {
		off       int
		got, want float64
	}{
		{0, float64(f(0)), float64(float32(0.5))},
		{4, float64(f(4)), float64(float32(0.9))},
		{8, float64(f(8)), float64(float32(2e-5))},
		{12, float64(f(12)), float64(float32(0.01))},
		{16, float64(f(16)), float64(float32(agc.DefaultEps))}, // Eps 0 means the default
		{20, float64(f(20)), float64(float32(1 - 0.99999))},
		{24, float64(u(24)), 1},
		{28, float64(u(28)), 7},
	} {
		if c.got != c.want {
			t.Errorf("offset %d = %v, want %v", c.off, c.got, c.want)
		}
	}
	for _, h := range []agc.Hyper{{LR: -1}, {LR: math.NaN()}, {Momentum: 1}, {WeightDecay: math.Inf(1)}, {Lambda: -0.1},
		{Eps: -1}, {EMADecay: 1.5}, {Step: -1}, {LR: 1e39}} {
		if _, err := h.Encode(); err == nil || !strings.HasPrefix(err.Error(), "hyper: ") {
			t.Errorf("%+v: err = %v, want a hyper error", h, err)
		}
	}
}

// TestUnitsOf checks the unit counts of every shape class under both
// rules: timm clips an (O,1,1,1) gain per element, DeepMind as one unit.
func TestUnitsOf(t *testing.T) {
	for _, c := range []struct {
		shape    []int
		dm, timm int
	}{
		{[]int{16, 3, 3, 3}, 16, 16},
		{[]int{16, 1, 1, 1}, 1, 16},
		{[]int{16}, 1, 1},
		{[]int{}, 1, 1},
		{[]int{10, 24}, 10, 10},
		{[]int{8, 48, 1, 1}, 8, 8},
	} {
		for rule, want := range map[agc.UnitRule]int{agc.DeepMind: c.dm, agc.Timm: c.timm} {
			if got, err := UnitsOf(c.shape, rule); err != nil || got != want {
				t.Errorf("UnitsOf(%v, %v) = %d, %v; want %d", c.shape, rule, got, err, want)
			}
		}
	}
	if _, err := UnitsOf([]int{3, 0}, agc.Timm); err == nil {
		t.Error("UnitsOf accepted a zero dimension")
	}
}

// TestOptimErrors checks that bad tensors and spans are refused with
// errors naming the op and the tensor, before anything is recorded.
func TestOptimErrors(t *testing.T) {
	d, k := testDevice(t)
	hyper := newHyper(t, d)
	buf := upload(t, d, make([]float32, 64))
	other := upload(t, d, make([]float32, 64))
	sp := func(b *engine.Buffer, off, n int) engine.Span { return b.Span().Sub(int64(4*off), int64(4*n)) }
	good := OptimTensor{Name: "w", Shape: []int{2, 4}, Param: sp(buf, 0, 8), Grad: sp(buf, 8, 8), Momentum: sp(buf, 16, 8), AGC: true, Units: 2}
	mod := func(f func(t *OptimTensor)) OptimTensor { c := good; f(&c); return c }
	prog := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer prog.Close()
	for _, c := range []struct {
		name string
		t    OptimTensor
		want string
	}{
		{"size", mod(func(t *OptimTensor) { t.Grad = sp(buf, 8, 7) }), `grad holds 7 elements, shape [2 4] has 8`},
		{"shape", mod(func(t *OptimTensor) { t.Shape = []int{2, 0} }), `shape [2 0]`},
		{"units", mod(func(t *OptimTensor) { t.Units = 3 }), `3 AGC units do not divide its 8 elements`},
		{"no units", mod(func(t *OptimTensor) { t.Units = 0 }), `0 AGC units`},
		{"overlap", mod(func(t *OptimTensor) { t.Momentum = sp(buf, 4, 8) }), `overlap`},
		{"no buffer", mod(func(t *OptimTensor) { t.Momentum = engine.Span{} }), `momentum has no buffer`},
		{"misaligned", mod(func(t *OptimTensor) { t.Param = engine.Span{Buf: buf, Off: 2, Size: 32} }), `not a float32 boundary`},
	} {
		err := k.OptimizerStep(prog, c.t, hyper)
		if err == nil || !strings.Contains(err.Error(), `optimizer step "w"`) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming the op, the tensor and %q", c.name, err, c.want)
		}
	}
	if err := k.OptimizerStep(prog, good, hyper.Sub(0, 16)); err == nil || !strings.Contains(err.Error(), "hyper span of 16 bytes") {
		t.Errorf("short hyper: err = %v", err)
	}
	// A buffer of its own: any offset into one could break a device's
	// minStorageBufferOffsetAlignment (256 under NFVK_LIMITS=small).
	table := upload(t, d, make([]float32, 32)).Span()
	second := OptimTensor{Name: "b", Shape: []int{4}, Param: sp(buf, 24, 4), Grad: sp(buf, 28, 4), Momentum: sp(buf, 32, 4)}
	for _, c := range []struct {
		name string
		ts   []OptimTensor
		tab  engine.Span
		want string
	}{
		{"empty", nil, table, "no tensors"},
		{"twice", []OptimTensor{good, good}, table, `tensor "w" given twice`},
		{"buffers", []OptimTensor{good, mod(func(t *OptimTensor) { t.Name, t.Param = "x", sp(other, 0, 8) })}, table, `tensor "x": param in buffer`},
		{"overlap", []OptimTensor{good, mod(func(t *OptimTensor) {
			t.Name, t.Param, t.Grad, t.Momentum = "x", sp(buf, 24, 8), sp(buf, 32, 8), sp(buf, 20, 8)
		})}, table, "overlap"},
		{"table", []OptimTensor{good, second}, sp(other, 0, 8), "table span of 32 bytes"},
	} {
		err := k.OptimizerSteps(prog, c.ts, hyper, c.tab)
		if err == nil || !strings.Contains(err.Error(), "optimizer step [") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := k.EMAUpdate(prog, sp(buf, 0, 8), sp(buf, 8, 9), hyper); err == nil || !strings.Contains(err.Error(), "ema update") {
		t.Errorf("ema length mismatch: err = %v", err)
	}
	if prog.Len() != 0 {
		t.Errorf("%d dispatches recorded by failing calls", prog.Len())
	}
	// The good ones are accepted.
	if err := k.OptimizerSteps(prog, []OptimTensor{good, second}, hyper, table); err != nil {
		t.Error(err)
	}
}
