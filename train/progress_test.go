package train

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func updates(epoch, steps int) []ProgressUpdate {
	var us []ProgressUpdate
	for s := 1; s <= steps; s++ {
		us = append(us, ProgressUpdate{Epoch: epoch, Epochs: 2, Step: s, StepsPerEpoch: steps,
			Loss: 1 / float64(s), Acc: 0.1 * float64(s), ImagesPerS: 1000 + float64(s), ETA: time.Duration(steps-s) * time.Minute})
	}
	return us
}

func TestTerminalProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	off := false
	p := NewTerminalProgress(&buf, TerminalOptions{Bar: &off, Every: 2})
	for _, u := range updates(1, 5) {
		p.Update(u)
	}
	p.EpochDone(EpochMetrics{Epoch: 1, Step: 5, TrainLoss: 0.25, TrainAcc: 0.5, TestAcc: 0.875, ImagesPerS: 1003, ElapsedS: 65})
	p.Update(ProgressUpdate{Epoch: 2, Epochs: 2, Step: 2, StepsPerEpoch: 5, Loss: 0.2, ETA: -1})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"epoch 1/2 step 2/5 loss 0.5000 acc  20.0%   1002 img/s ETA 3m0s",
		"epoch 1/2 step 4/5 loss 0.2500 acc  40.0%   1004 img/s ETA 1m0s",
		"epoch 1/2 step 5/5 loss 0.2000 acc  50.0%   1005 img/s ETA 0s", // last step of the epoch
		"epoch 1: train loss 0.2500 acc 50.00% | test acc 87.50% | 1003 img/s | 1m5s",
		"epoch 2/2 step 2/5 loss 0.2000 acc   0.0%      0 img/s ETA ?",
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalProgressBar(t *testing.T) {
	var buf bytes.Buffer
	on := true
	p := NewTerminalProgress(&buf, TerminalOptions{Bar: &on, Throttle: time.Nanosecond})
	for _, u := range updates(1, 4) {
		p.Update(u)
	}
	p.EpochDone(EpochMetrics{Epoch: 1, Step: 4, TrainLoss: 0.25, TestAcc: 0.9, ImagesPerS: 1004, ElapsedS: 3})
	for _, u := range updates(2, 4)[:2] {
		p.Update(u)
	}
	p.Close()
	out := buf.String()
	for _, s := range []string{
		"100% [=========================]  epoch 1/2 step 4/4 loss 0.2500 acc  40.0%   1004 img/s ETA 0s",
		"epoch 1: train loss 0.2500 | test acc 90.00% | 1004 img/s | 3s",
		"epoch 2/2 step 2/4 loss 0.5000 acc  20.0%   1002 img/s ETA 2m0s",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("bar output lacks %q:\n%q", s, out)
		}
	}
	// The epoch line starts a line of its own, after the bar's redraws.
	if !strings.Contains(out, "\nepoch 1: train loss") {
		t.Errorf("epoch summary not on its own line:\n%q", out)
	}
}

// TestTerminalProgressThrottle checks that updates within the throttle
// interval are not drawn, except an epoch's first and last.
func TestTerminalProgressThrottle(t *testing.T) {
	var buf bytes.Buffer
	on := true
	p := NewTerminalProgress(&buf, TerminalOptions{Bar: &on, Throttle: time.Hour})
	for _, u := range updates(1, 4) {
		p.Update(u)
	}
	p.Close()
	out := buf.String()
	for step, drawn := range map[string]bool{"step 1/4": true, "step 2/4": false, "step 3/4": false, "step 4/4": true} {
		if strings.Contains(out, step) != drawn {
			t.Errorf("%s drawn: %v, want %v:\n%q", step, !drawn, drawn, out)
		}
	}
}

func TestProgressFunc(t *testing.T) {
	var got []int
	var p Progress = ProgressFunc(func(u ProgressUpdate) { got = append(got, u.Step) })
	p.Update(ProgressUpdate{Step: 3})
	p.EpochDone(EpochMetrics{})
	if p.Close() != nil || len(got) != 1 || got[0] != 3 {
		t.Errorf("ProgressFunc delivered %v", got)
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Resumed at step 100 of 1100; 128 images a step.
	m := NewMeter(t0, 100, 1100, 10*time.Second)
	if _, eta, ok := m.Rate(); ok || eta >= 0 {
		t.Errorf("rate known before any step (eta %v)", eta)
	}
	// 10 steps a second for 20 s.
	for i := 1; i <= 200; i++ {
		m.Observe(at(float64(i)/10), int64(100+i), int64(128*i))
	}
	ips, eta, ok := m.Rate()
	if !ok || math.Abs(ips-1280) > 1e-9 || eta != 80*time.Second {
		t.Errorf("steady: %v img/s, ETA %v, %v; want 1280, 1m20s", ips, eta, ok)
	}
	// Then twice as fast: after a full window, the rate is the new one.
	for i := 1; i <= 200; i++ {
		m.Observe(at(20+float64(i)/20), int64(300+i), int64(128*(200+i)))
	}
	ips, eta, _ = m.Rate()
	if math.Abs(ips-2560) > 1e-9 || eta != 30*time.Second {
		t.Errorf("after speed-up: %v img/s, ETA %v; want 2560, 30s", ips, eta)
	}
	if n := len(m.samples); n > 2*202 {
		t.Errorf("meter holds %d samples for a 10 s window of 20 steps/s", n)
	}
	// Memory stays bounded over a long run.
	long := NewMeter(t0, 0, 1<<40, time.Second)
	for i := 1; i <= 100_000; i++ {
		long.Observe(at(float64(i)/100), int64(i), int64(i))
	}
	if n := len(long.samples); n > 2*102 {
		t.Errorf("after 100000 steps the meter holds %d samples for a 1 s window of 100 steps/s", n)
	}
	if ips, _, _ := long.Rate(); math.Abs(ips-100) > 1e-6 {
		t.Errorf("long run: %v img/s, want 100", ips)
	}
	// Past the planned end the ETA is 0, not negative.
	m.Observe(at(31), 1200, 128*500)
	if _, eta, _ := m.Rate(); eta != 0 {
		t.Errorf("ETA past the end = %v", eta)
	}
}
