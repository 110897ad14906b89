package agc_test

import (
	"fmt"
	"log"

	"github.com/nfvk/nfvk/agc"
)

// A recipe's schedule with the NFNet batch scaling: 0.1 per 256 images at
// batch 512, one warmup epoch of five.
func ExampleNewSchedule() {
	r := agc.Recipe{Epochs: 5, LR: agc.ScaleLR(0.1, 512), WarmupEpochs: 1, Momentum: 0.9, Nesterov: true, EMADecay: 0.9999}
	s, err := agc.NewSchedule(r, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, step := range []int64{0, 50, 100, 300, 499, 500} {
		fmt.Printf("step %3d: lr %.6f ema decay %.4f\n", step, s.LR(step), s.EMADecay(step))
	}
	// Output:
	// step   0: lr 0.000000 ema decay 0.1000
	// step  50: lr 0.100000 ema decay 0.8500
	// step 100: lr 0.200000 ema decay 0.9182
	// step 300: lr 0.100000 ema decay 0.9710
	// step 499: lr 0.000003 ema decay 0.9823
	// step 500: lr 0.000000 ema decay 0.9824
}
