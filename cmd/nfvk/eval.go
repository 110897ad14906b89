package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// runEval is `nfvk eval CHECKPOINT`: the test accuracy of a checkpoint's
// EMA weights (or its raw weights with --raw).
func runEval(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		dataName = fs.String("data", "", "dataset (default: the one the checkpoint was trained on): fashion-mnist, mnist, cifar10, folder")
		dataDir  = fs.String("data-dir", "", "dataset `directory` (default: the checkpoint's)")
		batch    = fs.Int("batch", 250, "evaluation batch size")
		raw      = fs.Bool("raw", false, "evaluate the raw weights instead of the EMA")
		device   = fs.String("device", "", "Vulkan device: index or name substring")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, evalHelp, flagUsage(fs, evalUsage))
			return nil
		}
		return fmt.Errorf("eval: %w\n%s", err, flagUsage(fs, evalUsage))
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("eval: want one checkpoint, got %d arguments\n%s", fs.NArg(), flagUsage(fs, evalUsage))
	}
	ck, l, rec, err := openCheckpoint(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	src := dataSource{name: rec.Data, dir: rec.DataDir, size: rec.Height, skipBad: true}
	if *dataName != "" {
		src.name = *dataName
	}
	if *dataDir != "" {
		src.dir = *dataDir
	}
	ds, err := src.load()
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	// A run on a subset of the classes is scored on those classes.
	if err := ds.selectClasses(rec.ClassSubset); err != nil {
		return fmt.Errorf("eval: checkpoint %s: class_subset %v: %w", ck.Path, rec.ClassSubset, err)
	}
	if ds.channels() != ck.Config.InChans || len(ds.classNames()) != ck.Config.NumClasses {
		return fmt.Errorf("eval: checkpoint %s: model takes %d channels and %d classes; %s has %d and %d", ck.Path,
			ck.Config.InChans, ck.Config.NumClasses, src.name, ds.channels(), len(ds.classNames()))
	}
	ev, err := newEvalData(ds, rec)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	dev, err := openDevice(*device)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer closeDevice(dev, &retErr)
	e, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: kernels.New(dev),
		EvalBatch: min(*batch, ev.n), EvalHeight: ev.size, EvalWidth: ev.width})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer e.Close()
	w, which := ck.EMA, "EMA"
	if *raw {
		w, which = ck.Params, "raw"
	}
	if err := e.SetParams(tensorMap(w)); err != nil {
		return fmt.Errorf("eval: checkpoint %s: %w", ck.Path, err)
	}
	r, err := ev.evaluate(ctx, e)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	fmt.Fprintf(stdout, "%s (step %d, epoch %d, %s weights): test accuracy %.2f%%, loss %.4f on %d %s images\n",
		ck.Path, ck.Step, ck.Epoch, which, 100*r.Acc, r.Loss, r.N, src.name)
	return nil
}

const (
	evalUsage = "usage: nfvk eval [flags] CHECKPOINT"
	evalHelp  = "Test accuracy and loss of a checkpoint (a file, or a run directory: its latest).\n\n"
)

// openCheckpoint loads and checks a checkpoint: a loadable file whose
// tensors fit its config, and the recipe the loop stored in it.
func openCheckpoint(path string) (*train.Checkpoint, *nfnet.Layout, train.Recipe, error) {
	ck, err := loadCheckpointFor(path)
	if err != nil {
		return nil, nil, train.Recipe{}, err
	}
	l, err := nfnet.NewLayout(ck.Config)
	if err != nil {
		return nil, nil, train.Recipe{}, fmt.Errorf("checkpoint %s: config: %w", ck.Path, err)
	}
	if err := ck.CheckCompatible(ck.Config, l.Params()); err != nil {
		return nil, nil, train.Recipe{}, err
	}
	// Evaluation and prediction use the EMA weights.
	if err := ck.CheckFinite("ema"); err != nil {
		return nil, nil, train.Recipe{}, err
	}
	rec, err := train.LoadRecipe(ck)
	if err != nil {
		return nil, nil, train.Recipe{}, err
	}
	return ck, l, rec, nil
}

func tensorMap(m map[string]train.Tensor) map[string][]float32 {
	out := make(map[string][]float32, len(m))
	for k, t := range m {
		out[k] = t.Data
	}
	return out
}
