package data

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// photoJPEG is a w×h JPEG (quality 90) with photo-like content: smooth
// colour waves, edges and noise, so it compresses like a photograph
// (about 2 bits per pixel) rather than a flat test card.
func photoJPEG(tb testing.TB, w, h int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	var f [3][4]float64
	for c := range f {
		for k := range f[c] {
			f[c][k] = 0.005 + 0.05*r.Float64()
		}
	}
	for y := range h {
		for x := range w {
			o := m.PixOffset(x, y)
			for c := range 3 {
				v := 128 + 60*math.Sin(f[c][0]*float64(x)+f[c][1]*float64(y)) + 40*math.Cos(f[c][2]*float64(x*y)/float64(w)+f[c][3]*float64(x))
				if (x/37+y/23)%5 == 0 {
					v += 50
				}
				v += 12 * r.NormFloat64()
				m.Pix[o+c] = uint8(min(max(v, 0), 255))
			}
			m.Pix[o+3] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// benchJPEGFolder writes classes×per full-size (ImageNet-typical 500×375
// and 375×500) JPEGs under dir/<class>/.
func benchJPEGFolder(tb testing.TB, dir string, classes, per int) {
	for k := range classes {
		for i := range per {
			w, h := 500, 375
			if i%3 == 2 {
				w, h = h, w
			}
			writeFile(tb, dir, fmt.Sprintf("c%02d/%03d.jpg", k, i), photoJPEG(tb, w, h, uint64(k*1000+i)))
		}
	}
}

// torchvisionAnchor is the reference input pipeline: torchvision's
// ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor
// through a DataLoader with 2 worker processes, batch 32. It prints the
// images/s of `epochs` epochs after a warm-up epoch.
const torchvisionAnchor = `
import sys, time, torch
from torchvision import datasets, transforms
root, epochs = sys.argv[1], int(sys.argv[2])
tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor()])
dl = torch.utils.data.DataLoader(datasets.ImageFolder(root, tf), batch_size=32, shuffle=True, num_workers=2)
for _ in dl:
    pass
n, t0 = 0, time.perf_counter()
for _ in range(epochs):
    for x, _ in dl:
        n += x.shape[0]
print(n / (time.perf_counter() - t0))
`

// anchorRate runs the torchvision anchor on dir; ok is false (with why)
// when Python or torchvision is missing.
func anchorRate(tb testing.TB, dir string, epochs int) (rate float64, why string) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		return 0, "no /usr/bin/python3"
	}
	out, err := exec.Command(py, "-c", torchvisionAnchor, dir, strconv.Itoa(epochs)).CombinedOutput()
	if err != nil {
		return 0, fmt.Sprintf("torchvision anchor failed (apt-get install python3-torchvision): %v: %s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return 0, "torchvision anchor printed nothing"
	}
	rate, err = strconv.ParseFloat(lines[len(lines)-1], 64)
	if err != nil {
		return 0, fmt.Sprintf("torchvision anchor output %q", out)
	}
	return rate, ""
}

// BenchmarkPipeline/jpeg-224 streams full-size JPEGs (500×375) through
// random-resized crops to 224 px, flips and normalisation, two workers,
// batches of 32, and reports images/s beside the torchvision anchor
// measured in the same run on the same files (torchvision_images/s; 0
// with a logged reason when Python or torchvision is missing).
func BenchmarkPipeline(b *testing.B) {
	b.Run("jpeg-224", func(b *testing.B) {
		dir := b.TempDir()
		const classes, per = 4, 40
		benchJPEGFolder(b, dir, classes, per)
		anchor, why := anchorRate(b, dir, 2)
		if why != "" {
			b.Log(why)
		}
		f, _, err := OpenFolder(dir, SourceOptions{NoCache: true})
		if err != nil {
			b.Fatal(err)
		}
		st, err := NewStream(f, Transform{Size: 224, Train: true, HFlip: true,
			Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}})
		if err != nil {
			b.Fatal(err)
		}
		p, err := NewStreamPipeline(st, Config{BatchSize: 32, Shuffle: true, Seed: 1, Workers: 2})
		if err != nil {
			b.Fatal(err)
		}
		l := StartLoader(context.Background(), p)
		defer l.Close()
		n := 0
		for b.Loop() {
			batch, err := l.Next(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			n += batch.N
			l.Recycle(batch)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
		b.ReportMetric(anchor, "torchvision_images/s")
		b.Logf("decoder: %s", DecoderName())
	})
}

// BenchmarkJPEGDecode compares the decoders on one 500×375 JPEG: Go's
// image/jpeg (full size only) and, in cgo builds, libjpeg-turbo at full
// size and at the 1/2 and 1/4 DCT scales.
func BenchmarkJPEGDecode(b *testing.B) {
	src := photoJPEG(b, 500, 375, 1)
	b.Run("go", func(b *testing.B) {
		var m RGB8
		for b.Loop() {
			if err := goDecode(src, "bench.jpg", "jpeg", &m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	})
	if !turboAvailable {
		return
	}
	for _, d := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("turbo-1:%d", d), func(b *testing.B) {
			var m RGB8
			for b.Loop() {
				if err := turboDecode(src, "bench.jpg", 500, 375, d, &m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
