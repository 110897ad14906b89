package train

import "math"

// crossEntropy returns -log softmax(l)[label] (in float64, stable) and
// the arg max of l.
func crossEntropy(l []float32, label int) (float64, int) {
	top := 0
	for j, v := range l {
		if v > l[top] {
			top = j
		}
	}
	m := float64(l[top])
	var s float64
	for _, v := range l {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s) - float64(l[label]), top
}
