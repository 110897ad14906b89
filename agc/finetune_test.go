package agc

import "testing"

// TestFineTuneKnobs: Frozen and Clips share AGCExclude's module-path
// matching, a frozen parameter is never clipped, HeadMult defaults to 1,
// and Scaled applies DeepMind's lr * batch/256 only when asked, once.
func TestFineTuneKnobs(t *testing.T) {
	r := Recipe{Epochs: 1, LR: 0.1, AGCClip: 0.01, Freeze: []string{"stem", "stages.0"}, AGCExclude: []string{"head.fc"}}
	for _, c := range []struct {
		name          string
		frozen, clips bool
	}{
		{"stem.conv1.weight", true, false},
		{"stages.0.0.conv1.weight", true, false},
		{"stages.01.conv1.weight", false, true},
		{"stages.1.0.conv1.weight", false, true},
		{"head.fc.weight", false, false},
	} {
		if got := r.Frozen(c.name); got != c.frozen {
			t.Errorf("Frozen(%s) = %v, want %v", c.name, got, c.frozen)
		}
		if got := r.Clips(c.name, false); got != c.clips {
			t.Errorf("Clips(%s) = %v, want %v", c.name, got, c.clips)
		}
	}
	if r.HeadMult() != 1 {
		t.Errorf("HeadMult() = %v with HeadLRMult 0, want 1", r.HeadMult())
	}
	r.HeadLRMult = 10
	if r.HeadMult() != 10 {
		t.Errorf("HeadMult() = %v, want 10", r.HeadMult())
	}
	if got := r.Scaled(512).LR; got != 0.1 {
		t.Errorf("Scaled without LRScaleBatch: lr %v, want 0.1", got)
	}
	r.LRScaleBatch = true
	s := r.Scaled(512)
	if s.LR != 0.2 || s.LRScaleBatch {
		t.Errorf("Scaled(512): lr %v (LRScaleBatch %v), want 0.2 and the scaling applied once", s.LR, s.LRScaleBatch)
	}
	r.HeadLRMult = -1
	if err := r.Validate(); err == nil {
		t.Error("a negative head multiplier validates")
	}
}
