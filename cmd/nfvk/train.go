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
	"time"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// trainFlags are train's flags: the recipe's (bound to its fields) and
// the run's.
type trainFlags struct {
	fs                                                          *flag.FlagSet
	set                                                         map[string]bool
	rec                                                         train.Recipe
	variant, configPath, dataName, dataDir, device, resume, run string
	runsDir, init, classes                                      string
	size, testSize, workers, keep                               int
	maxSteps                                                    int64
	watchdog                                                    time.Duration
	quiet, initEMA, resetHead, initPartial, skipBad             bool
}

const trainUsage = "usage: nfvk train [flags]"

// parseTrainFlags parses args; help is true when --help was asked for
// (and printed).
func parseTrainFlags(args []string, stdout io.Writer) (f *trainFlags, help bool, err error) {
	f = &trainFlags{fs: flag.NewFlagSet("train", flag.ContinueOnError), rec: train.NanoRecipe(), set: map[string]bool{}}
	fs := f.fs
	fs.SetOutput(io.Discard)
	bindRecipe(fs, &f.rec)
	fs.StringVar(&f.variant, "variant", nfnet.NanoName, "model: "+nfnet.NanoName+" (the small default for 28-32 px images; see nfnet/small.go) or a named NFNet (f0..f7, f0+..f7+, dm_nfnet_f0..f6)")
	fs.StringVar(&f.configPath, "config", "", "model config `file` (JSON, timm NfCfg field names) instead of --variant; in_chans and num_classes are set from the data")
	fs.StringVar(&f.dataName, "data", "fashion-mnist", "dataset: fashion-mnist, mnist (idx files), cifar10 (binary batches), folder (DIR/train/<class>/*.jpg|png and DIR/val/ or test/, streamed from disk) or shards (DIR/train/*.tar and DIR/val/*.tar in the webdataset layout, streamed)")
	fs.StringVar(&f.dataDir, "data-dir", "", "dataset `directory` (default for fashion-mnist: "+defaultFashionDir+")")
	fs.IntVar(&f.size, "size", 32, "training image side in pixels for --data folder or shards (random-resized crops; a named NFNet variant defaults to its training size)")
	fs.IntVar(&f.testSize, "test-size", 0, "evaluation image side for --data folder or shards (resize to size+32, centre crop; default: --size, or a named variant's test size)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "with --data folder or shards: leave out (and log) the files the index finds unreadable, instead of refusing to start")
	fs.StringVar(&f.device, "device", "", "Vulkan device: index or name substring (default: $NFVK_DEVICE, else the best: discrete GPU, integrated, virtual, CPU)")
	fs.StringVar(&f.resume, "resume", "", "continue a run: its `directory` (latest checkpoint) or a checkpoint file; model, recipe and image size come from the checkpoint")
	fs.StringVar(&f.run, "run", "", "run `name`: the run directory is RUNS/NAME (default: the UTC start time)")
	fs.StringVar(&f.runsDir, "runs", "runs", "`directory` holding run directories")
	fs.IntVar(&f.workers, "workers", 0, "goroutines preparing each batch (0: every CPU with a GPU, half of them on a CPU device, which needs the rest)")
	fs.IntVar(&f.keep, "keep", 2, "checkpoints kept per run")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output, only the summary")
	fs.StringVar(&f.init, "init", "", "start from these weights (fine-tuning): a `file` of timm-named tensors (safetensors, e.g. timm's dm_nfnet_f0), an nfvk checkpoint or a run directory (its latest checkpoint); the classifier is re-initialised when the class count differs")
	fs.BoolVar(&f.initEMA, "init-ema", false, "with --init of a checkpoint: take its EMA weights instead of its parameters")
	fs.BoolVar(&f.resetHead, "reset-head", false, "with --init: re-initialise the classifier even when its shape fits")
	fs.BoolVar(&f.initPartial, "init-partial", false, "with --init: missing, extra or mis-shaped tensors are warnings (those parameters start fresh), not an error")
	fs.StringVar(&f.classes, "classes", "", "train and test on only these classes of the dataset, relabelled 0..k-1 in the order given (the model gets k classes): a comma-separated `list` of indices, ranges and class names, e.g. 0-4, 5,6,7 or cat,dog")
	fs.Int64Var(&f.maxSteps, "max-steps", 0, "stop after N optimizer steps (counting those of a resumed run) with an evaluation, a metrics line and a checkpoint (0: run every epoch)")
	fs.DurationVar(&f.watchdog, "watchdog", 0, "fail the run (keeping its last checkpoint) when the device has not finished a step after this `duration`; 0: 50 times the slowest step so far, at least 5m; negative: never")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText(fs, trainUsage, trainHelp))
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("train: %w\n%s", err, flagUsage(fs, trainUsage))
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("train: unexpected arguments %q\n%s", fs.Args(), flagUsage(fs, trainUsage))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.set["config"] && f.set["variant"] {
		return nil, false, errors.New("train: give --config or --variant, not both")
	}
	for _, name := range []string{"init-ema", "reset-head", "init-partial"} {
		if f.set[name] && f.init == "" {
			return nil, false, fmt.Errorf("train: --%s needs --init", name)
		}
	}
	if f.maxSteps < 0 {
		return nil, false, fmt.Errorf("train: --max-steps %d: want >= 0", f.maxSteps)
	}
	// Checked before any data is read: --size 100000 would not fit memory.
	if err := data.CheckImageSize("--size and --crop-pad", f.size, f.size, f.rec.CropPad); err != nil {
		return nil, false, withCommand("train", err)
	}
	f.rec.DataSeed = f.rec.Seed + 1
	return f, false, nil
}

// runTrain is `nfvk train`: a thin layer over train.Train.
func runTrain(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	f, help, err := parseTrainFlags(args, stdout)
	if err != nil || help {
		return err
	}
	rk, err := startRanks()
	if err != nil {
		return withCommand("train", err)
	}
	defer func() { rk.end(os.Stderr, retErr) }()
	stdout = rk.stdout(stdout)
	o := train.Options{RunsDir: f.runsDir, RunName: f.run, KeepCheckpoints: f.keep, Workers: f.workers, MaxSteps: f.maxSteps, Watchdog: f.watchdog}
	o.Tune = tuneSetup(logTo(stdout, f.quiet))
	src := dataSource{name: f.dataName, dir: f.dataDir, size: f.size, skipBad: f.skipBad, log: logTo(stdout, f.quiet)}
	rec := f.rec
	if f.resume != "" {
		if rec, err = f.resumeRecipe(&o, &src); err != nil {
			return withCommand("train", err)
		}
	}
	ds, err := src.load()
	if err != nil {
		return withCommand("train", err)
	}
	if err := f.selectClasses(&rec, &ds); err != nil {
		return withCommand("train", err)
	}
	if f.resume == "" {
		augmentationDefaults(&rec, src.name, f.set)
		if streamed(src.name) {
			rec.CropPad = 0 // random-resized crops instead
			if rec.Height, rec.TestSize, err = f.sizes(true); err != nil {
				return withCommand("train", err)
			}
			rec.Width = rec.Height
		}
		if o.Model, err = f.model(ds); err != nil {
			return withCommand("train", err)
		}
		// The weights are checked against the model before the device
		// is opened: a file of another architecture fails at once.
		if o.Init, err = f.initWeights(stdout, o.Model, rec.Seed); err != nil {
			return withCommand("train", err)
		}
	}
	rec.Data, rec.DataDir, rec.Mean, rec.Std, rec.Classes = src.name, src.dir, ds.stats.Mean, ds.stats.Std, ds.classNames()
	o.Recipe, o.Train, o.Test = rec, ds.train, ds.test
	if ds.trainSrc != nil {
		o.Train, o.Test = nil, nil
		if o.TrainStream, o.TestStream, err = ds.streams(rec); err != nil {
			return withCommand("train", err)
		}
	}

	devSpec, err := rk.device(f.device)
	if err != nil {
		return withCommand("train", err)
	}
	dev, err := openDevice(devSpec)
	if err != nil {
		return withCommand("train", err)
	}
	defer closeDevice(dev, &retErr)
	o.Kernels = kernels.New(dev)
	reportSlowWaits(dev, stdout)
	in := dev.Info()
	if !f.set["workers"] {
		o.Workers = autoWorkers(in.Type)
	}
	fmt.Fprintf(stdout, "device: %s (%s)\n", in.Name, in.Type)
	if rk != nil {
		o.Collective = rk.comm
		fmt.Fprintln(stdout, rk.describe(rec.Batch))
	}
	fmt.Fprintf(stdout, "model: %s, %d parameters; data: %s, %s\n", o.Model.Name, countParams(o.Model), src.name, ds.describe(rec))
	if len(rec.ClassSubset) > 0 {
		fmt.Fprintf(stdout, "classes: %s (dataset classes %v, relabelled 0..%d)\n", strings.Join(rec.Classes, ", "), rec.ClassSubset, len(rec.ClassSubset)-1)
	}
	if f.resume == "" {
		fmt.Fprintf(stdout, "recipe: %d epochs, batch %d, lr %g (warmup %g epochs, cosine), AGC %g, label smoothing %g, EMA %g, crop-pad %d, hflip %v%s\n",
			rec.Epochs, rec.Batch, rec.LR, rec.WarmupEpochs, rec.AGCClip, rec.LabelSmoothing, rec.EMADecay, rec.CropPad, rec.HFlip, mixDescription(rec))
	}
	var progress train.Progress
	if f.quiet {
		progress = train.ProgressFunc(func(train.ProgressUpdate) {})
	} else {
		progress = train.NewTerminalProgress(stdout, train.TerminalOptions{})
	}
	res, err := train.Train(ctx, o, progress)
	if res.Dir != "" {
		fmt.Fprintf(stdout, "run: %s\n", res.Dir)
	}
	if err != nil {
		return withCommand("train", err)
	}
	return reportTrain(ctx, stdout, res)
}

// resumeRecipe takes the model, recipe, data and image size from the
// checkpoint to resume; a flag that would change them is an error naming
// it, never silently dropped.
func (f *trainFlags) resumeRecipe(o *train.Options, src *dataSource) (train.Recipe, error) {
	ck, err := loadCheckpointFor(f.resume)
	if err != nil {
		return train.Recipe{}, err
	}
	rec, err := train.LoadRecipe(ck)
	if err != nil {
		return train.Recipe{}, err
	}
	ignored := append(recipeFlags(), "variant", "config", "run", "runs", "size", "test-size", "init", "init-ema", "reset-head", "init-partial", "classes")
	for _, name := range ignored {
		if f.set[name] {
			return train.Recipe{}, fmt.Errorf("--%s cannot change a resumed run (the checkpoint %s holds its model, recipe, image size and run directory)", name, ck.Path)
		}
	}
	if !f.set["data"] {
		src.name = rec.Data
	}
	if !f.set["data-dir"] {
		src.dir = rec.DataDir
	}
	if rec.Height > 0 {
		src.size = rec.Height
	}
	o.Resume, o.Model = ck.Path, ck.Config
	return rec, nil
}

// selectClasses restricts both splits to the run's classes: --classes,
// resolved against the data's class names, on a new run (recorded in
// rec.ClassSubset), the checkpoint's class_subset on a resumed one.
func (f *trainFlags) selectClasses(rec *train.Recipe, ds *splits) error {
	if f.resume == "" && f.set["classes"] {
		sub, err := data.ParseClasses(f.classes, ds.classNames())
		if err != nil {
			return fmt.Errorf("--classes %q: %w", f.classes, err)
		}
		if err := ds.selectClasses(sub); err != nil {
			return fmt.Errorf("--classes %q: %w", f.classes, err)
		}
		rec.ClassSubset = sub
		return nil
	}
	if err := ds.selectClasses(rec.ClassSubset); err != nil {
		return fmt.Errorf("the checkpoint's class_subset %v: %w", rec.ClassSubset, err)
	}
	return nil
}

// model is the network to train: --config, nano or a named variant, with
// the data's input channels and classes.
func (f *trainFlags) model(ds splits) (nfnet.Config, error) {
	var cfg nfnet.Config
	var err error
	switch {
	case f.configPath != "":
		cfg, err = nfnet.LoadConfig(f.configPath)
	case f.variant == nfnet.NanoName:
		cfg = nfnet.Nano(ds.channels(), len(ds.classNames()))
	default:
		cfg, err = nfnet.Variant(f.variant)
	}
	if err != nil {
		return cfg, err
	}
	// The data decides the input channels and classes.
	cfg.InChans, cfg.NumClasses = ds.channels(), len(ds.classNames())
	return cfg, nil
}

// initWeights loads --init's weights for the model (nil without --init)
// and prints what was loaded and re-initialised.
func (f *trainFlags) initWeights(stdout io.Writer, cfg nfnet.Config, seed uint64) (map[string][]float32, error) {
	if f.init == "" {
		return nil, nil
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	path := f.init
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		// A run directory: its latest checkpoint, as --resume takes it.
		if path, err = train.LatestCheckpoint(path); err != nil {
			return nil, fmt.Errorf("--init: %w", err)
		}
	}
	w, report, err := train.LoadInit(path, l, train.InitOptions{EMA: f.initEMA, ResetHead: f.resetHead, Partial: f.initPartial, Seed: seed})
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stdout, report)
	return w, nil
}

// reportTrain prints where the run's results are and its final accuracy.
func reportTrain(ctx context.Context, stdout io.Writer, res train.Result) error {
	if res.Stopped {
		fmt.Fprintf(stdout, "stopped after step %d (--max-steps); checkpoint %s\n", res.Step, res.Checkpoint)
	}
	if res.AlreadyDone {
		fmt.Fprintf(stdout, "run %s had already finished: step %d, every epoch of its recipe done; nothing to train\n", res.Dir, res.Step)
	}
	if res.Interrupted {
		// Not a success: scripts and schedulers must see the run stopped.
		return interruptedError(ctx, res)
	}
	fmt.Fprintf(stdout, "checkpoint: %s\nmetrics: %s\nplot: %s\n", res.Checkpoint,
		filepath.Join(res.Dir, train.MetricsFile), filepath.Join(res.Dir, train.PlotFile))
	if n := len(res.Metrics); n > 0 {
		m := res.Metrics[n-1]
		fmt.Fprintf(stdout, "final test accuracy: %.2f%% (EMA weights, epoch %d, %.0f s)\n", 100*m.TestAcc, m.Epoch, m.ElapsedS)
	}
	return nil
}

const trainHelp = `Trains an NFNet on the best Vulkan device (or --device) and keeps the
result in runs/<run>/: metrics.jsonl (one line per epoch), metrics.png,
and checkpoints (safetensors). Each epoch ends with an evaluation of the
weight EMA on the test split. Ctrl-C, SIGTERM or SIGHUP saves a
checkpoint and stops (status 128 + the signal; a second one exits at
once); a second process on the same run is refused; --resume
continues exactly where it stopped (it takes the model, recipe and image
size from the checkpoint and refuses flags that would change them). The
defaults are the nano recipe for Fashion-MNIST (see README, Training).
Started by mpirun or srun with several ranks it trains data-parallel, one
device per rank, --batch being the global batch (README, Data-parallel).
`

const defaultFashionDir = "/usr/share/datasets/fashion-mnist"

// dataSource names a dataset on disk.
type dataSource struct {
	name, dir string
	size      int
	// skipBad leaves out the bad samples a streamed dataset's index
	// finds; log (may be nil) hears of each.
	skipBad bool
	log     io.Writer
}

// splits are a dataset's training and test splits: in memory (train,
// test) or streamed from disk (trainSrc, testSrc).
type splits struct {
	train, test       *data.Dataset
	trainSrc, testSrc data.Source
	stats             data.Stats
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
	case "folder", "shards":
		return s.openSources()
	default:
		return out, fmt.Errorf("--data %q: want fashion-mnist, mnist, cifar10, folder or shards", s.name)
	}
	if err := checkSplitShapes(s.name, s.dir, out); err != nil {
		return out, err
	}
	if err := out.train.Normalize(out.stats); err != nil {
		return out, err
	}
	if err := out.test.Normalize(out.stats); err != nil {
		return out, err
	}
	return out, nil
}

// selectClasses keeps only the given classes (indices into the data's
// classes) of both splits, relabelled 0..k-1 in that order; none keeps
// every class.
func (s *splits) selectClasses(classes []int) error {
	if len(classes) == 0 {
		return nil
	}
	if s.trainSrc != nil {
		return s.selectSourceClasses(classes)
	}
	tr, err := s.train.SelectClasses(classes)
	if err != nil {
		return fmt.Errorf("training split: %w", err)
	}
	te, err := s.test.SelectClasses(classes)
	if err != nil {
		return fmt.Errorf("test split: %w", err)
	}
	s.train, s.test = tr, te
	return nil
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

// augmentationDefaults gives natural images (cifar10, folders, shards)
// the flips, and cifar10 the crops, of train.CIFARRecipe where the user
// set neither flag; Fashion-MNIST and MNIST keep the recipe's (none: a
// run of minutes underfits, and augmentation costs it accuracy).
func augmentationDefaults(rec *train.Recipe, dataset string, set map[string]bool) {
	natural := dataset == "cifar10" || streamed(dataset)
	if !set["hflip"] {
		rec.HFlip = rec.HFlip || natural
	}
	if !set["crop-pad"] && dataset == "cifar10" {
		rec.CropPad = max(rec.CropPad, train.CIFARRecipe().CropPad)
	}
}
