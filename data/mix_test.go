package data

import (
	"math"
	"testing"
)

// indexDataset has one class per sample and sample i filled with value i,
// so a mixed image reveals its partner and λ.
func indexDataset(n, h, w int) *Dataset {
	d := synthetic(n, 1, h, w, n)
	for i := range n {
		d.Labels[i] = int32(i)
		setAll(d.Image(i), float32(i))
	}
	return d
}

func TestMix(t *testing.T) {
	const n, h, w = 16, 8, 8
	for _, tc := range []struct {
		name       string
		mix        Mix
		wantMixUp  bool
		wantCutMix bool
		smoothing  float32
	}{
		{"mixup", Mix{MixUpAlpha: 0.4}, true, false, 0},
		{"cutmix", Mix{CutMixAlpha: 1}, false, true, 0},
		{"both", Mix{MixUpAlpha: 1, CutMixAlpha: 1}, true, true, 0},
		{"both smoothed", Mix{MixUpAlpha: 1, CutMixAlpha: 1}, true, true, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPipeline(indexDataset(n, h, w), Config{BatchSize: n, Shuffle: true, Seed: 11, Mix: &tc.mix, LabelSmoothing: tc.smoothing})
			if err != nil {
				t.Fatal(err)
			}
			var sawMixUp, sawCutMix bool
			for step := range 20 {
				b, err := p.Batch(Position{Epoch: step}, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					base := b.Labels[i]
					if int(base) != b.Indices[i] {
						t.Fatalf("row %d label %d is not its base sample %d", i, base, b.Indices[i])
					}
					row := b.Targets[i*n : (i+1)*n]
					// Undo smoothing, then read λ off the target.
					var sum float64
					raw := make([]float64, n)
					for k, v := range row {
						sum += float64(v)
						raw[k] = (float64(v) - float64(tc.smoothing)/n) / (1 - float64(tc.smoothing))
					}
					if math.Abs(sum-1) > 1e-5 {
						t.Fatalf("target row %d sums to %v", i, sum)
					}
					lam := raw[base]
					partner := -1
					for k, v := range raw {
						if k != int(base) && v > 1e-6 {
							partner = k
						}
					}
					img := b.Images[i*h*w : (i+1)*h*w]
					if partner < 0 { // mixed with itself or λ = 1
						for _, v := range img {
							if math.Abs(float64(v)-float64(base)) > 1e-4 {
								t.Fatalf("unmixed row %d has value %v", i, v)
							}
						}
						continue
					}
					// CutMix rows hold only the two values, in proportion λ.
					cnt := 0
					pure := true
					for _, v := range img {
						switch v {
						case float32(base):
							cnt++
						case float32(partner):
						default:
							pure = false
						}
					}
					if pure && math.Abs(float64(cnt)/(h*w)-lam) < 1e-5 {
						sawCutMix = true
						continue
					}
					// MixUp rows are the blend λ·base + (1-λ)·partner.
					want := lam*float64(base) + (1-lam)*float64(partner)
					for _, v := range img {
						if math.Abs(float64(v)-want) > 1e-3 {
							t.Fatalf("row %d: value %v is neither CutMix nor MixUp (λ %.4f of %d with %d → %v)", i, v, lam, base, partner, want)
						}
					}
					sawMixUp = true
				}
			}
			if sawMixUp != tc.wantMixUp || sawCutMix != tc.wantCutMix {
				t.Fatalf("saw MixUp %v CutMix %v, want %v %v", sawMixUp, sawCutMix, tc.wantMixUp, tc.wantCutMix)
			}
		})
	}
}

func TestSoftTargets(t *testing.T) {
	d := synthetic(8, 1, 2, 2, 4)
	p, err := NewPipeline(d, Config{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Batch(Position{}, nil)
	if b.Targets != nil {
		t.Fatal("hard-label config produced Targets")
	}
	oh := b.SoftTargets(nil)
	for i := range 4 {
		for k := range 4 {
			want := float32(0)
			if int32(k) == b.Labels[i] {
				want = 1
			}
			if oh[i*4+k] != want {
				t.Fatalf("one-hot %v for labels %v", oh, b.Labels)
			}
		}
	}

	p, err = NewPipeline(d, Config{BatchSize: 4, LabelSmoothing: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = p.Batch(Position{}, nil)
	st := b.SoftTargets(nil)
	if &st[0] != &b.Targets[0] {
		t.Fatal("SoftTargets does not return Targets")
	}
	for i := range 4 {
		for k := range 4 {
			want := float32(0.05)
			if int32(k) == b.Labels[i] {
				want = 0.85
			}
			if math.Abs(float64(st[i*4+k]-want)) > 1e-6 {
				t.Fatalf("smoothed %v for labels %v", st, b.Labels)
			}
		}
	}
}
