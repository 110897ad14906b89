package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// Recipe is everything that decides what a run computes besides the model
// and the data: the optimizer and its schedule (agc.Recipe, whose fields
// it carries inline), the batch, the loss, augmentation and seeds. It is
// stored in every checkpoint (Checkpoint.Run), and a resumed run takes it
// from there, so it cannot drift from the run it continues.
type Recipe struct {
	agc.Recipe
	// Batch is the batch size the device computes at once; with
	// AccumSteps K > 1 the gradients of K such micro-batches are summed
	// before each update, which trains exactly like a batch of K*Batch.
	Batch      int `json:"batch"`
	AccumSteps int `json:"accum_steps,omitempty"`
	// LabelSmoothing of the training cross-entropy.
	LabelSmoothing float64 `json:"label_smoothing"`
	// CropPad and HFlip configure augmentation: a random crop of the image
	// padded by CropPad pixels (0: none) and random horizontal flips.
	CropPad int  `json:"crop_pad"`
	HFlip   bool `json:"hflip"`
	// MixUp and CutMix are the Beta alphas of batch mixing (0: off); with
	// either on, MixProb (0 means 1) is the chance a batch is mixed, and
	// the loss takes soft targets with label smoothing folded in, as
	// timm's Mixup and SoftTargetCrossEntropy do.
	MixUp   float64 `json:"mixup,omitempty"`
	CutMix  float64 `json:"cutmix,omitempty"`
	MixProb float64 `json:"mix_prob,omitempty"`
	// RandAugment layers and magnitude of streamed training images (0
	// layers: off); TestSize is the streamed test split's image size.
	// The loop only stores them (the streams apply them).
	RandAugLayers int     `json:"randaugment_layers,omitempty"`
	RandAugMag    float64 `json:"randaugment_magnitude,omitempty"`
	TestSize      int     `json:"test_size,omitempty"`
	// Seed keys parameter initialisation and the device's random streams;
	// DataSeed shuffling and augmentation.
	Seed     uint64 `json:"seed"`
	DataSeed uint64 `json:"data_seed"`
	// Data, DataDir, Mean and Std describe the dataset and its
	// normalisation, for eval and predict on a checkpoint; the loop only
	// stores them.
	Data    string    `json:"data,omitempty"`
	DataDir string    `json:"data_dir,omitempty"`
	Mean    []float32 `json:"mean,omitempty"`
	Std     []float32 `json:"std,omitempty"`
	// Classes names the classes (for predict).
	Classes []string `json:"classes,omitempty"`
	// ClassSubset, when set, restricts the run to these classes of the
	// dataset (indices into its full class list, e.g. Fashion-MNIST's
	// 0..9): both splits keep only their samples, relabelled 0..k-1 in
	// this order (data.Dataset.SelectClasses), and the model has k
	// classes, which Classes names. Resume and eval apply it to the data
	// they load, so they see the run's classes.
	ClassSubset []int `json:"class_subset,omitempty"`
	// Height and Width are the training image size.
	Height int `json:"height"`
	Width  int `json:"width"`
	// Precision is the activation storage of the step: "fp32" (or empty,
	// the default) or "fp16", mixed precision (graph.ParsePrecision).
	Precision string `json:"precision,omitempty"`
	// LossScale and LossScaleGrowth configure dynamic loss scaling of
	// fp16 runs: the initial scale, a power of two (0:
	// DefaultLossScale), and the good steps that double it (0:
	// DefaultLossScaleGrowth). fp32 runs ignore them.
	LossScale       float64 `json:"loss_scale,omitempty"`
	LossScaleGrowth int     `json:"loss_scale_growth,omitempty"`
}

// NanoRecipe is how `make train` trains nfnet.Nano on Fashion-MNIST in
// minutes: SGD with Nesterov momentum 0.9 at batch 128, learning rate 0.4
// after half an epoch of linear warmup, cosine decay to 0 over 7 epochs,
// AGC with lambda 0.04 (the classifier excluded, the skip gains exempt),
// weight decay 5e-5, label smoothing 0.1, no augmentation, and test
// accuracy measured on a weight EMA of decay 0.998 (a horizon of ~500
// steps, about one epoch). Each choice was measured with nfvk on
// Fashion-MNIST (README, Training): in a budget of a few epochs the model
// underfits, so random crops and flips cost accuracy (3 epochs: 88.66%
// with them, 90.44% without) and lr 0.4 beats 0.1 (6 epochs: 90.40%
// against 89.20%). Natural-image datasets want flips and crops back:
// CIFARRecipe, and nfvk train turns them on for cifar10, folder and
// shards.
func NanoRecipe() Recipe {
	return Recipe{
		Recipe: agc.Recipe{Epochs: 7, LR: 0.4, WarmupEpochs: 0.5, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5,
			AGCClip: 0.04, EMADecay: 0.998},
		Batch: 128, LabelSmoothing: 0.1, CropPad: 0, HFlip: false, Seed: 0, DataSeed: 1,
	}
}

// CIFARRecipe is NanoRecipe with the augmentation of small natural
// images, random 2-pixel crops and horizontal flips, for nfnet.Nano on
// CIFAR-10 or a folder of photos.
func CIFARRecipe() Recipe {
	r := NanoRecipe()
	r.CropPad, r.HFlip = 2, true
	return r
}

// Validate checks the recipe's values, naming every bad field.
func (r Recipe) Validate() error {
	var errs []error
	if err := r.Recipe.Validate(); err != nil {
		errs = append(errs, err)
	}
	bad := func(field string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("recipe: %s: "+format, append([]any{field}, args...)...))
	}
	if r.Batch < 1 {
		bad("batch", "%d, want >= 1", r.Batch)
	}
	if r.AccumSteps < 0 {
		bad("accum_steps", "%d, want >= 1 (0: 1)", r.AccumSteps)
	}
	if !(r.LabelSmoothing >= 0 && r.LabelSmoothing < 1) {
		bad("label_smoothing", "%v, want in [0, 1)", r.LabelSmoothing)
	}
	if r.CropPad < 0 {
		bad("crop_pad", "%d, want >= 0", r.CropPad)
	}
	if _, err := graph.ParsePrecision(r.Precision); err != nil {
		bad("precision", "%v", err)
	}
	errs = append(errs, r.validateLossScale()...)
	if !(r.MixUp >= 0) || !(r.CutMix >= 0) || !(r.MixProb >= 0 && r.MixProb <= 1) {
		bad("mixup/cutmix/mix_prob", "%v, %v, %v: want alphas >= 0 and a probability in [0, 1]", r.MixUp, r.CutMix, r.MixProb)
	}
	return errors.Join(errs...)
}

// globalBatch is the images per update: Batch times AccumSteps.
func (r Recipe) globalBatch() int { return r.Batch * max(r.AccumSteps, 1) }

// optimizer is the recipe the training graph records with: the
// classifier is never clipped, as in the NFNet paper.
func (r Recipe) optimizer(l *nfnet.Layout) agc.Recipe {
	o := r.Recipe
	o.AGCExclude = append(slices.Clone(o.AGCExclude), l.Head.Weight, l.Head.Bias)
	return o
}

// Options configure Train.
type Options struct {
	// Kernels is the device to train on.
	Kernels *kernels.Kernels
	// Model is the network. On resume it must match the checkpoint's
	// (CheckCompatible); an empty Model (no Depths) takes the checkpoint's.
	Model nfnet.Config
	// Train and Test are the splits, normalised alike (Recipe.Mean/Std
	// record how).
	Train, Test *data.Dataset
	// TrainStream and TestStream, instead of Train and Test, read the
	// splits from disk as the steps need them (image folders, shards):
	// the model trains at the training stream's size and the eval pass is
	// compiled for the test stream's, which may differ.
	TrainStream, TestStream *data.Stream
	// Recipe is the training recipe. On resume the checkpoint's is used.
	Recipe Recipe
	// RunsDir is the parent of run directories (default "runs"); RunName
	// names the new run (default: the UTC start time).
	RunsDir, RunName string
	// Resume continues a run: a run directory (its latest checkpoint) or a
	// checkpoint file.
	Resume string
	// KeepCheckpoints is how many checkpoints a run keeps (0 means 2).
	KeepCheckpoints int
	// EvalBatch is the evaluation batch size (0 means Recipe.Batch).
	EvalBatch int
	// Workers prepare each batch on that many goroutines (0 means 1:
	// on a CPU device the device itself wants every core).
	Workers int
	// RateWindow is how far back the images/s and ETA of the progress
	// updates look (0 means 10 s).
	RateWindow time.Duration
	// Init, when set, holds the initial parameters of a new run (LoadInit:
	// pretrained weights to fine-tune) instead of a fresh initialisation.
	// A resumed run takes its checkpoint's.
	Init map[string][]float32
	// MaxSteps > 0 stops the run after that many optimizer steps (counted
	// from the start of the run, resumes included) with an evaluation, a
	// metrics line and a checkpoint: quick checks and scripted sweeps.
	MaxSteps int64
	// OnStep, when set, is called after every step with the global step
	// number (from 1) and its loss, on the loop's goroutine.
	OnStep func(step int64, loss float32)
	// Collective, when it has more than one rank, makes this process one
	// rank of a data-parallel run (package mpi): each rank computes its
	// share of every global batch (Recipe.Batch) on its own device, the
	// gradients are summed over the ranks before AGC and the update, and
	// only rank 0 writes the run directory.
	Collective Collective
	// Watchdog bounds each wait for the device: a wait longer than this is
	// taken for a hung device and fails the run (its last checkpoint
	// stays). 0 derives it from the measured step time (50 times the
	// slowest step, at least 5 minutes); a negative value turns it off.
	Watchdog time.Duration
	// DeviceMemoryLimit, when > 0, is the device memory the run may plan
	// for (a device shared with other work); 0 means what the device
	// offers (its memory budget, or its heap).
	DeviceMemoryLimit int64
	// Tune, when set, tunes the kernels for the model's shapes on this
	// device before the first step (SessionOptions.Tune).
	Tune *kernels.TuneSetup
}

// Result is what Train returns.
type Result struct {
	// Dir is the run directory; Checkpoint the last checkpoint written.
	Dir, Checkpoint string
	// Metrics holds every epoch's metrics, including those of the run
	// this one resumed.
	Metrics []EpochMetrics
	// Step is the number of steps done; Interrupted is set when the
	// context ended the run early, Stopped when Options.MaxSteps did
	// (after a checkpoint was saved).
	Step                 int64
	Interrupted, Stopped bool
	// AlreadyDone is set when a resumed run had finished every epoch:
	// nothing was trained.
	AlreadyDone bool
	// TestAcc is the last evaluation's accuracy (EMA weights), -1 when
	// none ran.
	TestAcc float64
}

// runState is Checkpoint.Run: the recipe plus the partial epoch's
// accumulators, so a run resumed mid-epoch reports the same epoch
// metrics as an uninterrupted one.
type runState struct {
	Recipe Recipe `json:"recipe"`
	// ElapsedS is the training and evaluation time of all steps so far.
	ElapsedS float64 `json:"elapsed_s"`
	// The epoch in progress: loss sum, correct predictions and images over
	// its steps so far, and its training seconds.
	EpochLoss   float64 `json:"epoch_loss_sum"`
	EpochHits   int64   `json:"epoch_correct"`
	EpochImages int64   `json:"epoch_images"`
	EpochTrainS float64 `json:"epoch_train_s"`
}

func decodeRunState(c *Checkpoint) (runState, error) {
	var rs runState
	if c.Run == nil {
		return rs, fmt.Errorf("train: checkpoint %s: no run options (not written by the training loop)", c.Path)
	}
	if err := json.Unmarshal(c.Run, &rs); err != nil {
		return rs, fmt.Errorf("train: checkpoint %s: run options: %w", c.Path, err)
	}
	if err := rs.Recipe.Validate(); err != nil {
		return rs, fmt.Errorf("train: checkpoint %s: %w", c.Path, err)
	}
	return rs, nil
}

// LoadRecipe returns the recipe stored in a checkpoint (for eval and
// predict: the data and its normalisation).
func LoadRecipe(c *Checkpoint) (Recipe, error) {
	rs, err := decodeRunState(c)
	return rs.Recipe, err
}
