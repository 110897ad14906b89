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

// countHits counts the rows of logits ([len(labels), classes]) whose top
// class is the label.
func countHits(logits []float32, labels []int32, classes int) int {
	hits := 0
	for i, y := range labels {
		if _, top := crossEntropy(logits[i*classes:(i+1)*classes], int(y)); top == int(y) {
			hits++
		}
	}
	return hits
}
