package main

import (
	"fmt"

	"github.com/nfvk/nfvk/safetensors"
)

// readTrainBatch is readBatch, except that a "targets" tensor (F32
// [N, classes]), when the file has one and the loss is wanted, replaces
// the labels: the loss is then timm's SoftTargetCrossEntropy.
func readTrainBatch(path string, needLoss bool, classes int) (x []float32, shape []int, labels []int64, targets []float32, err error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("input: %w", err)
	}
	_, soft := f.Info("targets")
	if soft && needLoss {
		var ts []int
		targets, ts, err = f.Float32s("targets")
		f.Close()
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("input %s: targets: %w", path, err)
		}
		if x, shape, _, err = readBatch(path, false); err != nil {
			return nil, nil, nil, nil, err
		}
		if len(ts) != 2 || ts[0] != shape[0] || ts[1] != classes {
			return nil, nil, nil, nil, fmt.Errorf("input %s: targets have shape %v, want [%d, %d] (inputs, classes)", path, ts, shape[0], classes)
		}
		return x, shape, nil, targets, nil
	}
	f.Close()
	x, shape, labels, err = readBatch(path, needLoss)
	return x, shape, labels, nil, err
}
