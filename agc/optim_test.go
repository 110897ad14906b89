package agc

import (
	"math"
	"reflect"
	"testing"
)

// TestSGDOrder follows one scalar through two steps by hand: p = 1, g =
// 0.5, wd = 0.1, m = 0.9, lr = 0.1.
//
//	step 1: g = 0.5 + 0.1*1 = 0.6; buf = 0.6; g = 0.6 + 0.9*0.6 = 1.14;
//	        p = 1 - 0.114 = 0.886
//	step 2: g = 0.5 + 0.0886 = 0.5886; buf = 0.54 + 0.5886 = 1.1286;
//	        g = 0.5886 + 1.01574 = 1.60434; p = 0.886 - 0.160434 = 0.725566
//
// Without Nesterov the update uses buf: p1 = 1 - 0.06 = 0.94; step 2: g =
// 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134, p2 = 0.94 - 0.1134 =
// 0.8266. Without weight decay (a gain): buf = 0.5, g = 0.95, p1 = 0.905;
// g = 0.5, buf = 0.95, g = 1.355, p2 = 0.7695.
func TestSGDOrder(t *testing.T) {
	tests := []struct {
		name     string
		nesterov bool
		decay    bool
		want     [2]float64
		wantBuf  [2]float64
	}{
		{"nesterov", true, true, [2]float64{0.886, 0.725566}, [2]float64{0.6, 1.1286}},
		{"heavy ball", false, true, [2]float64{0.94, 0.8266}, [2]float64{0.6, 1.134}},
		{"no decay", true, false, [2]float64{0.905, 0.7695}, [2]float64{0.5, 0.95}},
	}
	for _, tc := range tests {
		opt := SGD{LR: 0.1, Momentum: 0.9, Nesterov: tc.nesterov, WeightDecay: 0.1}
		p := Param{Name: "w", Shape: []int{}, Value: []float32{1}, Momentum: []float32{0}, WeightDecay: tc.decay}
		for step := 0; step < 2; step++ {
			p.Grad = []float32{0.5}
			if _, err := opt.Step([]Param{p}); err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(p.Value[0])-tc.want[step]) > 1e-6 || math.Abs(float64(p.Momentum[0])-tc.wantBuf[step]) > 1e-6 {
				t.Errorf("%s step %d: p %v buf %v, want %v %v", tc.name, step+1, p.Value[0], p.Momentum[0], tc.want[step], tc.wantBuf[step])
			}
		}
	}
}

// TestSGDClipsFirst checks that AGC sees the raw gradient before weight
// decay, writes the clipped gradient back, and skips excluded tensors.
func TestSGDClipsFirst(t *testing.T) {
	opt := SGD{LR: 1, WeightDecay: 0.5, Clip: &Clipper{Lambda: 0.5, Rule: Timm}, Exclude: []string{"head"}}
	params := []Param{
		// ||W|| = 5, gmax = 2.5, ||G|| = 10 -> G = (1.5, 2); then g += 0.5*W.
		{Name: "w", Shape: []int{2}, Value: []float32{3, 4}, Grad: []float32{6, 8}, WeightDecay: true},
		{Name: "head", Shape: []int{2}, Value: []float32{3, 4}, Grad: []float32{6, 8}},
	}
	stats, err := opt.Step(params)
	if err != nil {
		t.Fatal(err)
	}
	if stats != (StepStats{ClippedTensors: 1, ClippedUnits: 1}) {
		t.Errorf("stats %+v", stats)
	}
	if !reflect.DeepEqual(params[0].Grad, []float32{1.5, 2}) || !reflect.DeepEqual(params[0].Value, []float32{0, 0}) {
		t.Errorf("w: grad %v value %v; want [1.5 2] and [3-1.5-1.5 4-2-2]", params[0].Grad, params[0].Value)
	}
	if !reflect.DeepEqual(params[1].Grad, []float32{6, 8}) || !reflect.DeepEqual(params[1].Value, []float32{-3, -4}) {
		t.Errorf("excluded head: grad %v value %v; want unclipped", params[1].Grad, params[1].Value)
	}
}

// TestSGDRejects checks bad input is refused and nothing changes.
func TestSGDRejects(t *testing.T) {
	good := func() []Param {
		return []Param{
			{Name: "a", Shape: []int{2}, Value: []float32{1, 2}, Grad: []float32{1, 1}, Momentum: []float32{0, 0}},
			{Name: "b", Shape: []int{1}, Value: []float32{1}, Grad: []float32{1}, Momentum: []float32{0}},
		}
	}
	opt := SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, Clip: &Clipper{Lambda: 0.01, Rule: Timm}}
	tests := []struct {
		name   string
		opt    SGD
		mutate func([]Param) []Param
	}{
		{"negative lr", SGD{LR: -1}, func(p []Param) []Param { return p }},
		{"momentum 1", SGD{LR: 0.1, Momentum: 1}, func(p []Param) []Param { return p }},
		{"nan decay", SGD{LR: 0.1, WeightDecay: math.NaN()}, func(p []Param) []Param { return p }},
		{"bad clipper", SGD{LR: 0.1, Clip: &Clipper{Lambda: 0.01}}, func(p []Param) []Param { return p }},
		{"duplicate", opt, func(p []Param) []Param { p[1].Name = "a"; return p }},
		{"short grad", opt, func(p []Param) []Param { p[1].Grad = nil; return p }},
		{"short value", opt, func(p []Param) []Param { p[1].Value = []float32{1, 2}; return p }},
		{"no momentum buffer", opt, func(p []Param) []Param { p[1].Momentum = nil; return p }},
		{"bad shape", opt, func(p []Param) []Param { p[1].Shape = []int{-1}; return p }},
	}
	for _, tc := range tests {
		params := tc.mutate(good())
		before := good()
		if _, err := tc.opt.Step(params); err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		// The first parameter is always valid and must be untouched.
		if !reflect.DeepEqual(params[0], before[0]) {
			t.Errorf("%s: changed %+v on error", tc.name, params[0])
		}
	}
	// Momentum 0 needs no buffer.
	p := []Param{{Name: "a", Shape: []int{1}, Value: []float32{1}, Grad: []float32{1}}}
	if _, err := (SGD{LR: 0.5}).Step(p); err != nil || p[0].Value[0] != 0.5 {
		t.Errorf("plain SGD: %v, value %v", err, p[0].Value)
	}
}
