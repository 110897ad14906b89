package agc

import (
	"math"
	"reflect"
	"testing"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		shape          []int
		rule           UnitRule
		units, perUnit int
	}{
		{[]int{}, DeepMind, 1, 1}, // skip gain
		{[]int{}, Timm, 1, 1},
		{[]int{7}, DeepMind, 1, 7}, // bias
		{[]int{7}, Timm, 1, 7},
		{[]int{7, 1, 1, 1}, DeepMind, 1, 7}, // WS gain: one unit
		{[]int{7, 1, 1, 1}, Timm, 7, 1},     // WS gain: per element
		{[]int{1, 7}, DeepMind, 1, 7},
		{[]int{1, 7}, Timm, 1, 7},
		{[]int{10, 512}, DeepMind, 10, 512}, // linear (O,I): per output
		{[]int{10, 512}, Timm, 10, 512},
		{[]int{32, 16, 3, 3}, DeepMind, 32, 144}, // conv OIHW: per output
		{[]int{32, 16, 3, 3}, Timm, 32, 144},
		{[]int{32, 64, 1, 1}, Timm, 32, 64}, // SE fc
	}
	for _, tc := range tests {
		u, s, err := Units(tc.shape, tc.rule)
		if err != nil || u != tc.units || s != tc.perUnit {
			t.Errorf("Units(%v, %v) = %d, %d, %v; want %d, %d", tc.shape, tc.rule, u, s, err, tc.units, tc.perUnit)
		}
	}
	for _, bad := range [][]int{{0}, {3, -1}, {1 << 30, 1 << 30, 1 << 30}} {
		if _, _, err := Units(bad, Timm); err == nil {
			t.Errorf("Units(%v) accepted", bad)
		}
	}
	if _, _, err := Units([]int{3}, UnitRule(9)); err == nil {
		t.Error("unknown rule accepted")
	}
}

func TestUnitNorms(t *testing.T) {
	got, err := UnitNorms([]float32{3, 4, 0, 5, 12, 0}, []int{2, 3}, Timm)
	if err != nil || !reflect.DeepEqual(got, []float64{5, 13}) {
		t.Errorf("UnitNorms = %v, %v; want [5 13]", got, err)
	}
	if _, err := UnitNorms([]float32{1, 2}, []int{3}, Timm); err == nil {
		t.Error("length mismatch accepted")
	}
}

func close32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

func TestClip(t *testing.T) {
	tests := []struct {
		name        string
		clipper     Clipper
		shape       []int
		param, grad []float32
		want        []float32
		clipped     int
	}{
		{
			// ||W|| = 5, gmax = 0.5*5 = 2.5, ||G|| = 10: scaled by 1/4.
			name: "clipped", clipper: Clipper{Lambda: 0.5, Rule: Timm}, shape: []int{2},
			param: []float32{3, 4}, grad: []float32{6, 8}, want: []float32{1.5, 2}, clipped: 1,
		},
		{
			// ||G|| = 2 < gmax 2.5: untouched (the condition is not inverted).
			name: "below threshold", clipper: Clipper{Lambda: 0.5, Rule: Timm}, shape: []int{2},
			param: []float32{3, 4}, grad: []float32{1.2, 1.6}, want: []float32{1.2, 1.6}, clipped: 0,
		},
		{
			// Zero weights: pn = eps = 1e-3, gmax = 1e-5, ||G|| = 5e-5.
			name: "eps floor", clipper: Clipper{Lambda: 0.01, Rule: Timm}, shape: []int{2},
			param: []float32{0, 0}, grad: []float32{3e-5, 4e-5}, want: []float32{6e-6, 8e-6}, clipped: 1,
		},
		{
			// Custom eps 1: gmax = 0.1, ||G|| = 0.5.
			name: "custom eps", clipper: Clipper{Lambda: 0.1, Eps: 1, Rule: Timm}, shape: []int{2},
			param: []float32{0, 0}, grad: []float32{0.3, 0.4}, want: []float32{0.06, 0.08}, clipped: 1,
		},
		{
			// (O,I) = (2,2): per output row. Row 0: ||W|| = 1, gmax = 1,
			// ||G|| = 2 -> halved. Row 1: ||W|| = 10, ||G|| = 2 -> kept. A
			// per-input (column) norm would clip both columns instead.
			name: "per output unit", clipper: Clipper{Lambda: 1, Rule: DeepMind}, shape: []int{2, 2},
			param: []float32{1, 0, 0, 10}, grad: []float32{0, 2, 2, 0}, want: []float32{0, 1, 2, 0}, clipped: 1,
		},
		{
			// Gain (2,1,1,1), timm: element 0 has ||W|| = 1, ||G|| = 3 ->
			// 1; element 1 has ||W|| = 4, ||G|| = 3 -> kept.
			name: "timm gain per element", clipper: Clipper{Lambda: 1, Rule: Timm}, shape: []int{2, 1, 1, 1},
			param: []float32{1, 4}, grad: []float32{3, 3}, want: []float32{1, 3}, clipped: 1,
		},
		{
			// Same gain, DeepMind: one unit with ||W|| = sqrt(17) and
			// ||G|| = sqrt(18) > sqrt(17): scaled by sqrt(17/18).
			name: "deepmind gain whole tensor", clipper: Clipper{Lambda: 1, Rule: DeepMind}, shape: []int{2, 1, 1, 1},
			param: []float32{1, 4}, grad: []float32{3, 3},
			want:    []float32{float32(3 * math.Sqrt(17.0/18)), float32(3 * math.Sqrt(17.0/18))},
			clipped: 1,
		},
		{
			// 0-d skip gain.
			name: "scalar", clipper: Clipper{Lambda: 0.01, Rule: Timm}, shape: []int{},
			param: []float32{0.5}, grad: []float32{-1}, want: []float32{-0.005}, clipped: 1,
		},
	}
	for _, tc := range tests {
		g := append([]float32(nil), tc.grad...)
		n, err := tc.clipper.Clip(tc.param, g, tc.shape)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if n != tc.clipped || !close32(g, tc.want, 1e-7*maxAbs(tc.want)) {
			t.Errorf("%s: clipped %d units to %v; want %d units, %v", tc.name, n, g, tc.clipped, tc.want)
		}
	}
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

func TestClipRejects(t *testing.T) {
	ok := Clipper{Lambda: 0.01, Rule: Timm}
	tests := []struct {
		name        string
		c           Clipper
		param, grad []float32
		shape       []int
	}{
		{"zero lambda", Clipper{Rule: Timm}, []float32{1}, []float32{1}, []int{1}},
		{"nan lambda", Clipper{Lambda: math.NaN(), Rule: Timm}, []float32{1}, []float32{1}, []int{1}},
		{"negative eps", Clipper{Lambda: 1, Eps: -1, Rule: Timm}, []float32{1}, []float32{1}, []int{1}},
		{"no rule", Clipper{Lambda: 1}, []float32{1}, []float32{1}, []int{1}},
		{"short grad", ok, []float32{1, 2}, []float32{1}, []int{2}},
		{"short param", ok, []float32{1}, []float32{1, 2}, []int{2}},
		{"bad shape", ok, []float32{1}, []float32{1}, []int{0}},
	}
	for _, tc := range tests {
		if _, err := tc.c.Clip(tc.param, tc.grad, tc.shape); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
