package main

import (
	"fmt"
	"testing"
)

// TestForwardSoftTargets: `nfvk forward --grad` on an input file with a
// "targets" tensor (timm's mixup_target: lam 0.7 with the batch
// reversed, smoothing 0.1) gives timm's SoftTargetCrossEntropy and the
// classifier's gradients (small_soft.safetensors), on the device and on
// the CPU references.
func TestForwardSoftTargets(t *testing.T) {
	ref := fixtureFile(t, "small_soft.safetensors")
	want := openST(t, ref)
	for _, mode := range []string{"device", "cpu"} {
		t.Run(mode, func(t *testing.T) {
			flags := []string{"--grad"}
			if mode == "cpu" {
				flags = append(flags, "--cpu")
			} else {
				needDevice(t)
			}
			out := forward(t, ref, flags...)
			got, wantLoss := tensor(t, out, "loss")[0], tensor(t, want, "loss")[0]
			if d := float64(got - wantLoss); !(d <= 1e-5 && d >= -1e-5) {
				t.Errorf("loss %v, timm's SoftTargetCrossEntropy %v", got, wantLoss)
			}
			for _, n := range []string{"head.fc.weight", "head.fc.bias"} {
				d, s := maxErr(t, n, tensor(t, out, "grad/"+n), tensor(t, want, "grad/"+n))
				if !(d <= 1e-4*s) {
					t.Errorf("grad %s: max error %.3g > 1e-4 * max |grad| %.3g", n, d, s)
				}
			}
			t.Log(fmt.Sprintf("loss %.7f (timm %.7f)", got, wantLoss))
		})
	}
}
