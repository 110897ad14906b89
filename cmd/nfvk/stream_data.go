package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// imageNetStats normalise streamed images as DeepMind's and timm's
// ImageNet pipelines do (a streamed dataset is not scanned for its own).
var imageNetStats = data.Stats{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}

// streamed reports whether the dataset is read from disk as it trains.
func streamed(name string) bool { return name == "folder" || name == "shards" }

// openSources opens --data folder or shards: DIR/train and DIR/val (or
// test), each checked by the index pass. Bad samples stop here, listed,
// unless skipBad, which logs each one skipped.
func (s *dataSource) openSources() (splits, error) {
	var out splits
	if s.dir == "" {
		return out, fmt.Errorf("--data %s needs --data-dir (holding train/ and val/ or test/)", s.name)
	}
	tr, te, reps, err := data.OpenSplits(s.dir, s.openOne)
	for _, rep := range reps {
		if rep.CacheErr != nil && s.log != nil {
			fmt.Fprintf(s.log, "note: %v (the index is checked again next time)\n", rep.CacheErr)
		}
	}
	if err != nil {
		return out, err
	}
	for _, rep := range reps {
		if err := rep.Err(); err != nil && !s.skipBad {
			return out, err
		}
		for _, b := range rep.Bad {
			if s.log != nil {
				fmt.Fprintf(s.log, "skipping bad sample (--skip-bad): %v\n", b.Err)
			}
		}
	}
	out.trainSrc, out.testSrc, out.stats = tr, te, imageNetStats
	return out, nil
}

// openOne opens one split as a folder or shards (given the training
// split's classes for a test split of shards).
func (s *dataSource) openOne(dir string, classes []string) (data.Source, *data.IndexReport, error) {
	if s.name == "shards" {
		sh, rep, err := data.OpenShards(dir, classes, data.SourceOptions{})
		if sh == nil { // a nil *Shards must not become a non-nil Source
			return nil, rep, err
		}
		return sh, rep, err
	}
	f, rep, err := data.OpenFolder(dir, data.SourceOptions{})
	if f == nil {
		return nil, rep, err
	}
	return f, rep, err
}

// streams makes the training and evaluation streams of the splits.
func (s *splits) streams(rec train.Recipe) (*data.Stream, *data.Stream, error) {
	ra := data.RandAugment{Layers: rec.RandAugLayers, Magnitude: rec.RandAugMag}
	tr, err := data.NewStream(s.trainSrc, data.Transform{Size: rec.Height, Train: true, HFlip: rec.HFlip, RandAugment: ra,
		Mean: rec.Mean, Std: rec.Std})
	if err != nil {
		return nil, nil, err
	}
	te, err := data.NewStream(s.testSrc, data.Transform{Size: testSize(rec), Mean: rec.Mean, Std: rec.Std})
	return tr, te, err
}

// testSize is a run's evaluation size (its training size when unset).
func testSize(rec train.Recipe) int {
	if rec.TestSize > 0 {
		return rec.TestSize
	}
	return rec.Height
}

// sizes resolves --size and --test-size of a new run: a named NFNet
// variant on streamed data defaults to its train/test resolutions (F0:
// 192/256); --size alone sets both.
func (f *trainFlags) sizes(stream bool) (size, test int, err error) {
	size, test = f.size, f.testSize
	named := f.configPath == "" && f.variant != nfnet.NanoName
	if stream && named && !f.set["size"] {
		tr, te, err := nfnet.VariantResolution(f.variant)
		if err != nil {
			return 0, 0, err
		}
		size = tr
		if !f.set["test-size"] {
			test = te
		}
	}
	if !f.set["test-size"] && (!stream || !named || f.set["size"]) {
		test = size
	}
	if size <= 0 || test <= 0 {
		return 0, 0, fmt.Errorf("--size %d, --test-size %d: want positive sizes", size, test)
	}
	return size, test, nil
}

// autoWorkers is --workers's default: every CPU when the device is a GPU;
// half of them (at least one) on a CPU device, which needs the rest.
func autoWorkers(t engine.DeviceType) int {
	if t == engine.TypeCPU {
		return max(1, runtime.NumCPU()/2)
	}
	return runtime.NumCPU()
}

// raFlag is --randaugment LAYERS,MAGNITUDE bound to a recipe.
type raFlag struct{ r *train.Recipe }

func (f raFlag) String() string {
	if f.r == nil || f.r.RandAugLayers == 0 {
		return "0"
	}
	return fmt.Sprintf("%d,%g", f.r.RandAugLayers, f.r.RandAugMag)
}

func (f raFlag) Set(s string) error {
	if strings.TrimSpace(s) == "0" {
		f.r.RandAugLayers, f.r.RandAugMag = 0, 0
		return nil
	}
	a, b, ok := strings.Cut(s, ",")
	n, err1 := strconv.Atoi(strings.TrimSpace(a))
	m, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil || n < 0 || n > 16 || m < 0 || m > 30 {
		return errors.New("want LAYERS,MAGNITUDE (e.g. 4,5: DeepMind's F0 recipe) or 0")
	}
	f.r.RandAugLayers, f.r.RandAugMag = n, m
	return nil
}

// logTo is where index notes go (nil: nowhere).
func logTo(w io.Writer, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return w
}

// selectSourceClasses is selectClasses for streamed splits.
func (s *splits) selectSourceClasses(classes []int) error {
	tr, err := data.SelectSourceClasses(s.trainSrc, classes)
	if err != nil {
		return fmt.Errorf("training split: %w", err)
	}
	te, err := data.SelectSourceClasses(s.testSrc, classes)
	if err != nil {
		return fmt.Errorf("test split: %w", err)
	}
	s.trainSrc, s.testSrc = tr, te
	return nil
}

// channels is the images' channel count (3 when streamed: RGB).
func (s *splits) channels() int {
	if s.trainSrc != nil {
		return 3
	}
	return s.train.C
}

// classNames names the classes.
func (s *splits) classNames() []string {
	if s.trainSrc != nil {
		return s.trainSrc.Classes()
	}
	return s.train.Classes
}

// describe says how many images of what size the splits hold.
func (s *splits) describe(rec train.Recipe) string {
	if s.trainSrc != nil {
		return fmt.Sprintf("%d train / %d test images (streamed), trained at %dx%d, tested at %dx%d",
			s.trainSrc.Len(), s.testSrc.Len(), rec.Height, rec.Width, testSize(rec), testSize(rec))
	}
	return fmt.Sprintf("%d train / %d test images of %dx%dx%d", s.train.N, s.test.N, s.train.C, s.train.H, s.train.W)
}

// mixDescription lists the recipe's MixUp, CutMix and RandAugment.
func mixDescription(rec train.Recipe) string {
	var parts []string
	if rec.MixUp > 0 || rec.CutMix > 0 {
		p := rec.MixProb
		if p == 0 {
			p = 1
		}
		parts = append(parts, fmt.Sprintf("mixup %g, cutmix %g (p %g)", rec.MixUp, rec.CutMix, p))
	}
	if rec.RandAugLayers > 0 {
		parts = append(parts, fmt.Sprintf("randaugment %d,%g", rec.RandAugLayers, rec.RandAugMag))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// evalData is a test split as eval scores it: in memory, or streamed at
// the run's test size with its normalisation.
type evalData struct {
	ds          *data.Dataset
	st          *data.Stream
	n           int
	size, width int
}

func newEvalData(s splits, rec train.Recipe) (evalData, error) {
	if s.testSrc == nil {
		return evalData{ds: s.test, n: s.test.N, size: s.test.H, width: s.test.W}, nil
	}
	sz := testSize(rec)
	st, err := data.NewStream(s.testSrc, data.Transform{Size: sz, Mean: rec.Mean, Std: rec.Std})
	if err != nil {
		return evalData{}, err
	}
	return evalData{st: st, n: s.testSrc.Len(), size: sz, width: sz}, nil
}

func (e evalData) evaluate(ctx context.Context, s *train.Session) (train.EvalResult, error) {
	if e.st != nil {
		return s.EvaluateStream(ctx, e.st, train.Current)
	}
	return s.Evaluate(ctx, e.ds, train.Current)
}

// evalImages prepares image files as a streamed run's test images.
func evalImages(files []string, rec train.Recipe) ([]float32, error) {
	st, err := data.NewStream(data.FileList(files), data.Transform{Size: testSize(rec), Mean: rec.Mean, Std: rec.Std})
	if err != nil {
		return nil, err
	}
	p, err := data.NewStreamPipeline(st, data.Config{BatchSize: len(files), Remainder: data.PadLast})
	if err != nil {
		return nil, err
	}
	b, err := p.Batch(data.Position{}, nil)
	if err != nil {
		return nil, err
	}
	return b.Images, nil
}
