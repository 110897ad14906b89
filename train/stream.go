package train

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
)

// The loop's data comes either as in-memory datasets (Options.Train and
// Test) or as streams read from disk (Options.TrainStream and
// TestStream: image folders and shards, at any size, with the test split
// at its own resolution). These helpers hide which.

// split describes one split whatever its form.
type split struct {
	n, c, h, w, k int
}

func streamSplit(s *data.Stream) split {
	t := s.Transform()
	return split{n: s.Source().Len(), c: 3, h: t.Size, w: t.Size, k: len(s.Source().Classes())}
}

func datasetSplit(ds *data.Dataset) split {
	return split{n: ds.N, c: ds.C, h: ds.H, w: ds.W, k: ds.NumClasses()}
}

// hasData reports whether o has a training and a test split, of one kind.
func (o Options) dataErr() error {
	mem := o.Train != nil || o.Test != nil
	stream := o.TrainStream != nil || o.TestStream != nil
	switch {
	case mem && stream:
		return errors.New("train: run: give datasets (Train, Test) or streams (TrainStream, TestStream), not both")
	case o.Train != nil && o.Test != nil, o.TrainStream != nil && o.TestStream != nil:
		return nil
	}
	return errors.New("train: run: needs training and test data")
}

// splits checks the data against the model and returns both splits'
// shapes.
func (o Options) splits() (tr, te split, err error) {
	if o.TrainStream != nil {
		tr, te = streamSplit(o.TrainStream), streamSplit(o.TestStream)
	} else {
		for _, c := range []struct {
			ds    *data.Dataset
			split string
		}{{o.Train, "training"}, {o.Test, "test"}} {
			if err := c.ds.Validate(); err != nil {
				return tr, te, fmt.Errorf("train: %s data: %w", c.split, err)
			}
		}
		tr, te = datasetSplit(o.Train), datasetSplit(o.Test)
		if te.h != tr.h || te.w != tr.w {
			return tr, te, fmt.Errorf("train: run: test images are %dx%d, training images %dx%d", te.h, te.w, tr.h, tr.w)
		}
	}
	for _, c := range []struct {
		s     split
		split string
	}{{tr, "training"}, {te, "test"}} {
		if err := checkSplit(o.Model, c.s, c.split); err != nil {
			return tr, te, err
		}
	}
	return tr, te, nil
}

func checkSplit(cfg nfnet.Config, s split, name string) error {
	if s.c != cfg.InChans {
		return fmt.Errorf("train: %s images have %d channels, model %q takes %d (in_chans)", name, s.c, cfg.Name, cfg.InChans)
	}
	if s.k > cfg.NumClasses {
		return fmt.Errorf("train: %s data has %d classes, model %q has %d (num_classes)", name, s.k, cfg.Name, cfg.NumClasses)
	}
	return nil
}

// soft reports whether the recipe trains on soft targets (MixUp/CutMix):
// the data pipeline then folds label smoothing into them.
func (r Recipe) soft() bool { return r.MixUp > 0 || r.CutMix > 0 }

// dataConfig is the training batches' configuration.
func (l *loop) dataConfig() data.Config {
	r := l.rs.Recipe
	dcfg := data.Config{BatchSize: r.globalBatch(), Shuffle: true, Seed: r.DataSeed, Remainder: data.DropLast,
		Workers: max(l.o.Workers, 1), Start: l.pos, Epochs: r.Epochs}
	if (r.CropPad > 0 || r.HFlip) && l.o.Train != nil {
		dcfg.Augment = &data.Augment{Pad: r.CropPad, HFlip: r.HFlip, Fill: l.o.Train.BlackLevel()}
	}
	if r.soft() {
		dcfg.Mix = &data.Mix{MixUpAlpha: r.MixUp, CutMixAlpha: r.CutMix, Prob: r.MixProb}
		dcfg.LabelSmoothing = float32(r.LabelSmoothing)
	}
	return dcfg
}

// newLoader starts the training batches' loader.
func (l *loop) newLoader(ctx context.Context) (*data.Loader, error) {
	dcfg := l.dataConfig()
	if l.o.TrainStream == nil {
		return data.NewLoader(ctx, l.o.Train, dcfg)
	}
	p, err := data.NewStreamPipeline(l.o.TrainStream, dcfg)
	if err != nil {
		return nil, err
	}
	return data.StartLoader(ctx, p), nil
}

// submit starts the step on a batch: soft targets with mixing, labels
// otherwise.
// On a data-parallel run, each rank submits its share of the batch.
func (l *loop) submit(b *data.Batch, seed uint64) error {
	h := l.sched.At(l.global)
	if l.rs.Recipe.soft() {
		l.targets = b.SoftTargets(l.targets)
		return l.sess.SubmitSoft(l.shardImages(b), l.shardTargets(l.targets), h, seed)
	}
	return l.sess.Submit(l.shardImages(b), l.shardLabels(b.Labels), h, seed)
}

// EvaluateStream scores the chosen weights on every image of a stream
// (its evaluation transform, at the eval pass's size), in order.
func (s *Session) EvaluateStream(ctx context.Context, st *data.Stream, w Weights) (EvalResult, error) {
	if s.eg == nil {
		return EvalResult{}, errors.New("train: evaluate: no eval pass (SessionOptions.EvalBatch)")
	}
	sp := streamSplit(st)
	cfg := s.Layout.Config
	if sp.c != cfg.InChans || sp.h != s.o.EvalHeight || sp.w != s.o.EvalWidth {
		return EvalResult{}, fmt.Errorf("train: evaluate: images are %dx%dx%d, the model takes %dx%dx%d", sp.c, sp.h, sp.w, cfg.InChans, s.o.EvalHeight, s.o.EvalWidth)
	}
	if sp.k > cfg.NumClasses {
		return EvalResult{}, fmt.Errorf("train: evaluate: the dataset has %d classes, the model %d (num_classes)", sp.k, cfg.NumClasses)
	}
	// The device waits for each batch here (no prefetch), so every CPU
	// decodes; the values do not depend on how many.
	p, err := data.NewStreamPipeline(st, data.Config{BatchSize: s.o.EvalBatch, Remainder: data.PadLast, Workers: runtime.NumCPU()})
	if err != nil {
		return EvalResult{}, fmt.Errorf("train: evaluate: %w", err)
	}
	return s.evalPipeline(ctx, p, w)
}
