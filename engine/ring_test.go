package engine

import (
	"context"
	"strings"
	"testing"
)

// TestUploadRing: runs that read ring-uploaded inputs see each run's
// values, take one submit each, keep a span's value when it is not Set,
// and a slot is never rewritten while the run that reads it is in flight.
func TestUploadRing(t *testing.T) {
	d := openTestWith(t, Options{Validate: true, DisableUnifiedMemory: true})
	if d.Unified() {
		t.Fatal("DisableUnifiedMemory ignored")
	}
	k := loadTestKernels(t, d)
	const n = 300
	x, y, z, a := newBuf(t, d, "x", n), newBuf(t, d, "y", n), newBuf(t, d, "z", n), newBuf(t, d, "a", 4)
	if x.Mapped() {
		t.Fatal("x is mapped under DisableUnifiedMemory")
	}
	if err := Upload(y, make([]float32, n)); err != nil {
		t.Fatal(err)
	}
	ring, err := d.NewUploadRing("inputs", []Span{x.Span(), a.Span()})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	progs := make([]*Program, 2)
	for i := range progs {
		p := d.NewProgram("ring", ProgramOptions{})
		defer p.Close()
		if err := p.Dispatch("y += x", k.axpby, groups(n), push(n, float32(1), float32(1)), In(x), InOut(y)); err != nil {
			t.Fatal(err)
		}
		if err := p.Dispatch("z = 2x", k.axpby, groups(n), push(n, float32(2), float32(0)), In(x), Out(z)); err != nil {
			t.Fatal(err)
		}
		progs[i] = p
	}
	sum := make([]float32, n)
	vals := make([]float32, n)
	for run := range 5 {
		set := run != 3 // run 3 keeps run 2's x
		if set {
			for i := range vals {
				vals[i] = float32((i*7+run*13)%23) - 11
			}
			if err := ring.Set(0, asBytes(vals)); err != nil {
				t.Fatal(err)
			}
		}
		before := d.Submits()
		slot := ring.Slot()
		if err := progs[0].SubmitWith(ring); err != nil {
			t.Fatal(err)
		}
		if got := d.Submits() - before; got != 1 {
			t.Errorf("run %d: %d submits, want 1", run, got)
		}
		if ring.Slot() == slot {
			t.Errorf("run %d: the ring stayed on slot %d", run, slot)
		}
		if err := progs[0].Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range sum {
			sum[i] += vals[i]
		}
		ys, zs := read(t, y), read(t, z)
		for i := range ys {
			if ys[i] != sum[i] || zs[i] != 2*vals[i] {
				t.Fatalf("run %d (set %v) element %d: y %v want %v, z %v want %v", run, set, i, ys[i], sum[i], zs[i], 2*vals[i])
			}
		}
	}

	// Two programs in flight at once on different slots: setting the
	// first one's slot again waits for it.
	if err := ring.Set(0, asBytes(vals)); err != nil {
		t.Fatal(err)
	}
	if err := progs[0].SubmitWith(ring); err != nil {
		t.Fatal(err)
	}
	if err := ring.Set(0, asBytes(vals)); err != nil {
		t.Fatal(err)
	}
	if err := progs[1].SubmitWith(ring); err != nil {
		t.Fatal(err)
	}
	if !progs[1].inflight {
		t.Fatal("program 1 not in flight after its submit")
	}
	if err := ring.Set(0, asBytes(vals)); err != nil {
		t.Fatal(err)
	}
	if progs[0].inflight {
		t.Error("Set rewrote the slot of a run still in flight")
	}
	if err := progs[1].Wait(context.Background()); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		i    int
		data []byte
		want string
	}{
		{0, make([]byte, 4), "is 1200 bytes, got 4"},
		{2, make([]byte, 16), "span 2 of 2"},
		{-1, nil, "span -1 of 2"},
	} {
		if err := ring.Set(c.i, c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%d, %d bytes): %v, want an error with %q", c.i, len(c.data), err, c.want)
		}
	}
	if _, err := d.NewUploadRing("empty", nil); err == nil {
		t.Error("a ring without spans was made")
	}
	if _, err := d.NewUploadRing("past", []Span{x.Span().Sub(4, 4*n)}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("a span past its buffer: %v", err)
	}
}
