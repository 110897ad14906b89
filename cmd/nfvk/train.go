package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// runTrain is `nfvk train`: a thin layer over train.Train.
func runTrain(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r := nfnet.NanoRecipe()
	var rec train.Recipe
	var (
		variant    = fs.String("variant", nfnet.NanoName, "model: "+nfnet.NanoName+" (the small default for 28-32 px images; see nfnet/small.go) or a named NFNet (f0..f7, f0+..f7+, dm_nfnet_f0..f6)")
		configPath = fs.String("config", "", "model config `file` (JSON, timm NfCfg field names) instead of --variant; in_chans and num_classes are set from the data")
		dataName   = fs.String("data", "fashion-mnist", "dataset: fashion-mnist, mnist (idx files), cifar10 (binary batches) or folder (DIR/train/<class>/*.png|jpg and DIR/test/<class>/...)")
		dataDir    = fs.String("data-dir", "", "dataset `directory` (default for fashion-mnist: "+defaultFashionDir+")")
		size       = fs.Int("size", 32, "image side in pixels for --data folder (images are resized)")
		epochs     = fs.Int("epochs", r.Epochs, "training epochs (the cosine schedule ends with the last)")
		batch      = fs.Int("batch", r.Batch, "batch size")
		lr         = fs.Float64("lr", r.LR, "peak learning rate, reached after the warmup")
		warmup     = fs.Float64("warmup", r.WarmupEpochs, "linear learning-rate warmup in epochs (fractions allowed)")
		momentum   = fs.Float64("momentum", r.Momentum, "SGD momentum (Nesterov)")
		wd         = fs.Float64("weight-decay", r.WeightDecay, "weight decay on conv and linear weights (not gains, biases, skip gains)")
		clip       = fs.Float64("agc", r.AGCClip, "adaptive gradient clipping lambda (0: off); scale it with lr")
		clipSkip   = fs.Bool("agc-skip-gains", false, "let AGC clip the zero-initialised skip gains too (DeepMind, timm); by default they are exempt, which lets residual branches open in short runs")
		smoothing  = fs.Float64("label-smoothing", r.LabelSmoothing, "label smoothing of the training loss")
		ema        = fs.Float64("ema", r.EMADecay, "weight EMA decay; test accuracy is measured with the EMA weights")
		cropPad    = fs.Int("crop-pad", r.CropPad, "random-crop augmentation: pad by N pixels, crop back (0: off)")
		hflip      = fs.Bool("hflip", r.HFlip, "random horizontal flips (on by default for fashion-mnist, cifar10, folder; off for mnist)")
		seed       = fs.Uint64("seed", r.Seed, "seed of the initial weights and of shuffling and augmentation")
		device     = fs.String("device", "", "Vulkan device: index or name substring (default: $NFVK_DEVICE, else the best: discrete GPU, integrated, virtual, CPU)")
		resume     = fs.String("resume", "", "continue a run: its `directory` (latest checkpoint) or a checkpoint file; model and recipe come from the checkpoint")
		runName    = fs.String("run", "", "run `name`: the run directory is RUNS/NAME (default: the UTC start time)")
		runsDir    = fs.String("runs", "runs", "`directory` holding run directories")
		workers    = fs.Int("workers", 1, "goroutines preparing each batch (on a CPU device the device needs the cores)")
		keep       = fs.Int("keep", 2, "checkpoints kept per run")
		quiet      = fs.Bool("quiet", false, "no progress output, only the summary")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, trainHelp, flagUsage(fs))
			return nil
		}
		return fmt.Errorf("train: %w\n%s", err, flagUsage(fs))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("train: unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["config"] && set["variant"] {
		return errors.New("train: give --config or --variant, not both")
	}

	o := train.Options{RunsDir: *runsDir, RunName: *runName, KeepCheckpoints: *keep, Workers: *workers}
	src := dataSource{name: *dataName, dir: *dataDir, size: *size}
	if *resume != "" {
		// The checkpoint decides the model, recipe and data.
		ck, err := loadCheckpointFor(*resume)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		rec, err = train.LoadRecipe(ck)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, f := range []string{"variant", "config", "epochs", "batch", "lr", "warmup", "momentum", "weight-decay", "agc", "agc-skip-gains", "label-smoothing", "ema", "crop-pad", "hflip", "seed", "run"} {
			if set[f] {
				return fmt.Errorf("train: --%s cannot change a resumed run (the checkpoint %s holds its recipe)", f, ck.Path)
			}
		}
		if !set["data"] {
			src.name = rec.Data
		}
		if !set["data-dir"] {
			src.dir = rec.DataDir
		}
		if rec.Height > 0 {
			src.size = rec.Height
		}
		o.Resume = ck.Path
		o.Model = ck.Config
	}
	ds, err := src.load()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if *resume == "" {
		if !set["hflip"] {
			*hflip = src.name != "mnist"
		}
		rec = train.Recipe{Epochs: *epochs, Batch: *batch, LR: *lr, WarmupEpochs: *warmup, Momentum: *momentum, Nesterov: true,
			WeightDecay: *wd, AGCClip: *clip, AGCSkipGains: *clipSkip, LabelSmoothing: *smoothing, EMADecay: *ema, CropPad: *cropPad, HFlip: *hflip,
			Seed: *seed, DataSeed: *seed + 1}
		var cfg nfnet.Config
		switch {
		case *configPath != "":
			if cfg, err = nfnet.LoadConfig(*configPath); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		case *variant == nfnet.NanoName:
			cfg = nfnet.Nano(ds.train.C, ds.train.NumClasses())
		default:
			if cfg, err = nfnet.Variant(*variant); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		}
		// The data decides the input channels and classes.
		cfg.InChans, cfg.NumClasses = ds.train.C, ds.train.NumClasses()
		o.Model = cfg
	}
	rec.Data, rec.DataDir, rec.Mean, rec.Std, rec.Classes = src.name, src.dir, ds.stats.Mean, ds.stats.Std, ds.train.Classes
	o.Recipe, o.Train, o.Test = rec, ds.train, ds.test

	dev, err := openDevice(*device)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer closeDevice(dev, &retErr)
	o.Kernels = kernels.New(dev)
	in := dev.Info()
	fmt.Fprintf(stdout, "device: %s (%s)\n", in.Name, in.Type)
	fmt.Fprintf(stdout, "model: %s, %d parameters; data: %s, %d train / %d test images of %dx%dx%d\n",
		o.Model.Name, countParams(o.Model), src.name, ds.train.N, ds.test.N, ds.train.C, ds.train.H, ds.train.W)
	if *resume == "" {
		fmt.Fprintf(stdout, "recipe: %d epochs, batch %d, lr %g (warmup %g epochs, cosine), AGC %g, label smoothing %g, EMA %g, crop-pad %d, hflip %v\n",
			rec.Epochs, rec.Batch, rec.LR, rec.WarmupEpochs, rec.AGCClip, rec.LabelSmoothing, rec.EMADecay, rec.CropPad, rec.HFlip)
	}
	var progress train.Progress
	if *quiet {
		progress = train.ProgressFunc(func(train.ProgressUpdate) {})
	} else {
		progress = train.NewTerminalProgress(stdout, train.TerminalOptions{})
	}
	res, err := train.Train(ctx, o, progress)
	if res.Dir != "" {
		fmt.Fprintf(stdout, "run: %s\n", res.Dir)
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if res.Interrupted {
		fmt.Fprintf(stdout, "interrupted after step %d; checkpoint %s\nresume with: nfvk train --resume %s\n", res.Step, res.Checkpoint, res.Dir)
		return nil
	}
	fmt.Fprintf(stdout, "checkpoint: %s\nmetrics: %s\nplot: %s\n", res.Checkpoint,
		filepath.Join(res.Dir, train.MetricsFile), filepath.Join(res.Dir, train.PlotFile))
	if n := len(res.Metrics); n > 0 {
		m := res.Metrics[n-1]
		fmt.Fprintf(stdout, "final test accuracy: %.2f%% (EMA weights, epoch %d, %.0f s)\n", 100*m.TestAcc, m.Epoch, m.ElapsedS)
	}
	return nil
}

const trainHelp = `usage: nfvk train [flags]

Trains an NFNet on the best Vulkan device (or --device) and keeps the
result in runs/<run>/: metrics.jsonl (one line per epoch), metrics.png,
and checkpoints (safetensors). Each epoch ends with an evaluation of the
weight EMA on the test split. Ctrl-C saves a checkpoint and stops; --resume
continues exactly where it stopped. The defaults are the nano recipe for
Fashion-MNIST (see README, Training).

flags:
`

const defaultFashionDir = "/usr/share/datasets/fashion-mnist"

// dataSource names a dataset on disk.
type dataSource struct {
	name, dir string
	size      int
}

type splits struct {
	train, test *data.Dataset
	stats       data.Stats
}

// load reads both splits and normalises them with the training set's
// statistics (published ones for the standard datasets).
func (s *dataSource) load() (splits, error) {
	var out splits
	var err error
	switch s.name {
	case "fashion-mnist", "mnist":
		if s.dir == "" {
			if s.name == "mnist" {
				return out, errors.New("--data mnist needs --data-dir (the directory of the idx files)")
			}
			s.dir = defaultFashionDir
		}
		load, stats := data.LoadFashionMNIST, data.FashionMNISTStats
		if s.name == "mnist" {
			load, stats = data.LoadMNIST, data.MNISTStats
		}
		if out.train, err = load(s.dir, data.Train); err != nil {
			return out, fmt.Errorf("%s training split: %w", s.name, err)
		}
		if out.test, err = load(s.dir, data.Test); err != nil {
			return out, fmt.Errorf("%s test split: %w", s.name, err)
		}
		out.stats = stats
	case "cifar10":
		if s.dir == "" {
			return out, errors.New("--data cifar10 needs --data-dir (the directory of data_batch_*.bin)")
		}
		if out.train, err = data.LoadCIFAR10(s.dir, data.Train); err != nil {
			return out, err
		}
		if out.test, err = data.LoadCIFAR10(s.dir, data.Test); err != nil {
			return out, err
		}
		out.stats = data.CIFAR10Stats
	case "folder":
		if s.dir == "" {
			return out, errors.New("--data folder needs --data-dir (holding train/ and test/ class folders)")
		}
		fo := data.FolderOptions{Width: s.size, Height: s.size, CenterCrop: true}
		if out.train, err = data.LoadImageFolder(filepath.Join(s.dir, "train"), fo); err != nil {
			return out, err
		}
		if out.test, err = data.LoadImageFolder(filepath.Join(s.dir, "test"), fo); err != nil {
			return out, err
		}
		if strings.Join(out.train.Classes, "\x00") != strings.Join(out.test.Classes, "\x00") {
			return out, fmt.Errorf("folder %s: train and test have different classes (%v, %v)", s.dir, out.train.Classes, out.test.Classes)
		}
		out.stats = data.ComputeStats(out.train)
	default:
		return out, fmt.Errorf("--data %q: want fashion-mnist, mnist, cifar10 or folder", s.name)
	}
	if err := out.train.Normalize(out.stats); err != nil {
		return out, err
	}
	if err := out.test.Normalize(out.stats); err != nil {
		return out, err
	}
	return out, nil
}

// openDevice opens the chosen device with a pipeline cache in the user's
// cache directory, so later runs skip shader compilation.
func openDevice(name string) (*engine.Device, error) {
	o := engine.Options{Device: name}
	if dir, err := os.UserCacheDir(); err == nil {
		o.PipelineCacheDir = filepath.Join(dir, "nfvk") // created on save
	}
	dev, err := engine.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open the Vulkan device: %w", err)
	}
	return dev, nil
}

// loadCheckpointFor loads a checkpoint file, or the latest one of a run
// directory.
func loadCheckpointFor(path string) (*train.Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if path, err = train.LatestCheckpoint(path); err != nil {
			return nil, err
		}
	}
	return train.LoadCheckpoint(path)
}

func countParams(cfg nfnet.Config) int64 {
	specs, err := nfnet.Params(cfg)
	if err != nil {
		return 0
	}
	return nfnet.CountParams(specs)
}
