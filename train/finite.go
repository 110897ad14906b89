package train

import (
	"fmt"
	"maps"
	"slices"
)

// Non-finite values are refused where they enter: a NaN weight turns
// every later step into NaN, and the loss then blames the learning rate
// rather than the file. Checkpoints may still hold them (LoadCheckpoint
// reads what is there, so that a diverged run's EMA can be exported);
// resuming, evaluating and predicting check the tensors they use.

// CheckFinite returns an error naming the first tensor of the given
// families ("param", "ema", "momentum"; none: all three) that holds a NaN
// or an infinity, with its index.
func (c *Checkpoint) CheckFinite(families ...string) error {
	if len(families) == 0 {
		families = []string{"param", "ema", "momentum"}
	}
	for _, fam := range families {
		var m map[string]Tensor
		switch fam {
		case "param":
			m = c.Params
		case "ema":
			m = c.EMA
		case "momentum":
			m = c.Momentum
		default:
			return fmt.Errorf("train: checkpoint: unknown tensor family %q", fam)
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if err := checkFinite(m[name].Data); err != nil {
				return fmt.Errorf("train: checkpoint %s: %s tensor %q: %w (a diverged run's state: use an earlier checkpoint)", c.Path, fam, name, err)
			}
		}
	}
	return nil
}

// checkStateFinite is checked before a checkpoint is written, so that a
// run's latest checkpoint always holds finite values: the step that took
// the weights to infinity may still have reported a finite loss.
func (l *loop) checkStateFinite(st State) error {
	for _, fam := range []struct {
		name string
		m    map[string][]float32
	}{{"param", st.Params}, {"ema", st.EMA}, {"momentum", st.Momentum}} {
		for _, name := range slices.Sorted(maps.Keys(fam.m)) {
			if err := checkFinite(fam.m[name]); err != nil {
				return l.diverged(l.global, fmt.Sprintf("%s tensor %q: %v", fam.name, name, err))
			}
		}
	}
	return nil
}

// diverged is the error of a run whose loss or state stopped being
// finite: at which step, and what was kept.
func (l *loop) diverged(step int64, what string) error {
	kept := "no checkpoint was written yet, so the run directory is removed; start again with a lower learning rate or AGC clip"
	if l.lastCkpt != "" {
		kept = fmt.Sprintf("the last finite checkpoint %s is kept", l.lastCkpt)
	}
	return fmt.Errorf("train: run: diverged at step %d: %s (lower the learning rate or the AGC clip); %s", step, what, kept)
}
