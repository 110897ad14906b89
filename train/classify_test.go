package train

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/nfnet"
)

// tinyEvalSession is a small model's eval pass on the CPU references with
// initialised weights set.
func tinyEvalSession(t *testing.T, batch int) *Session {
	t.Helper()
	cfg := nfnet.DefaultConfig()
	cfg.Name, cfg.InChans, cfg.NumClasses = "tiny", 1, 5
	cfg.Depths, cfg.Channels = []int{1}, []int{16}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(context.Background(), l, SessionOptions{EvalBatch: batch, EvalHeight: 8, EvalWidth: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	vals, err := nfnet.Init(s.Specs, 3)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for i, sp := range s.Specs {
		w[sp.Name] = vals[i]
	}
	if err := s.SetParams(w); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	s := tinyEvalSession(t, 3)
	const size = 8 * 8
	x := make([]float32, 3*size)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) * 2
	}
	logits, err := s.Forward(ctx, x, Current)
	if err != nil {
		t.Fatal(err)
	}
	logits = slices.Clone(logits)

	full, err := s.Classify(ctx, x, Current)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != 3 {
		t.Fatalf("%d rows, want 3", len(full))
	}
	for i, p := range full {
		if len(p) != 5 {
			t.Fatalf("row %d has %d classes, want 5", i, len(p))
		}
		var sum float64
		for _, v := range p {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("row %d sums to %v", i, sum)
		}
		// Softmax keeps the logits' order.
		l := logits[i*5 : (i+1)*5]
		if a, b := TopK(p, 5), TopK(l, 5); !slices.Equal(a, b) {
			t.Errorf("row %d: probability order %v, logit order %v", i, a, b)
		}
		if r := float64(p[0] / p[1]); math.Abs(r-math.Exp(float64(l[0]-l[1]))) > 1e-4*r {
			t.Errorf("row %d: p0/p1 = %v, want exp(l0-l1) = %v", i, r, math.Exp(float64(l[0]-l[1])))
		}
	}

	// Fewer images than the batch: padded, and each image's result is
	// its own (eval mode has no batch statistics).
	part, err := s.Classify(ctx, x[:2*size], Current)
	if err != nil {
		t.Fatal(err)
	}
	if len(part) != 2 {
		t.Fatalf("%d rows for 2 images", len(part))
	}
	for i := range part {
		for j := range part[i] {
			if d := math.Abs(float64(part[i][j] - full[i][j])); d > 1e-6 {
				t.Errorf("image %d class %d: %v alone, %v in a full batch", i, j, part[i][j], full[i][j])
			}
		}
	}
	// The rows are the caller's: a later call must not change them.
	before := slices.Clone(part[0])
	if _, err := s.Classify(ctx, make([]float32, size), Current); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, part[0]) {
		t.Error("a later Classify changed an earlier result")
	}

	for _, n := range []int{0, size - 1, 4 * size} {
		_, err := s.Classify(ctx, make([]float32, n), Current)
		if err == nil || !strings.Contains(err.Error(), "want 1 to 3 images of 64") {
			t.Errorf("%d values: err %v", n, err)
		}
	}
	if _, err := s.Classify(ctx, x, EMA); err == nil {
		t.Error("EMA weights without a training step: no error")
	}
}

func TestSoftmaxExtremeLogits(t *testing.T) {
	p := make([]float32, 3)
	softmax(p, []float32{1000, 0, -1000})
	if p[0] != 1 || p[1] < 0 || p[1] > 1e-30 || p[2] != 0 {
		t.Errorf("softmax of wide logits: %v", p)
	}
}

func TestTopK(t *testing.T) {
	p := []float32{0.1, 0.4, 0.1, 0.4}
	for _, tc := range []struct {
		k    int
		want []int
	}{
		{2, []int{1, 3}},
		{3, []int{1, 3, 0}},
		{9, []int{1, 3, 0, 2}},
		{0, []int{}},
		{-1, []int{}},
	} {
		if got := TopK(p, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("TopK(%v, %d) = %v, want %v", p, tc.k, got, tc.want)
		}
	}
}
