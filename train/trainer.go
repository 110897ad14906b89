package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// Recipe is everything that decides what a run computes besides the model
// and the data: it is stored in every checkpoint (Checkpoint.Run), and a
// resumed run takes it from there, so it cannot drift from the run it
// continues.
type Recipe struct {
	// Epochs and Batch give the run's length and batch size.
	Epochs int `json:"epochs"`
	Batch  int `json:"batch"`
	// LR is the peak learning rate (after warmup); the schedule is linear
	// warmup over WarmupEpochs then cosine decay to 0.
	LR           float64 `json:"lr"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	// Momentum and Nesterov configure SGD; WeightDecay applies to weights
	// only (not gains, biases, skip gains).
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	WeightDecay float64 `json:"weight_decay"`
	// AGCClip is adaptive gradient clipping's lambda (0: off). The
	// classifier is never clipped, as in the NFNet paper.
	AGCClip float64 `json:"agc_clip"`
	// AGCSkipGains makes AGC clip the blocks' skip gains too, as DeepMind
	// and timm do. By default it leaves them alone: a skip gain is a
	// scalar initialised to 0, so AGC's floor (eps = 1e-3 times lambda)
	// holds its gradient to ~4e-5 and every residual branch stays shut
	// for epochs; a short run never recovers that time (on a tiny model
	// in the tests: 2 epochs instead of 5 to learn).
	AGCSkipGains bool `json:"agc_skip_gains,omitempty"`
	// LabelSmoothing of the training cross-entropy.
	LabelSmoothing float64 `json:"label_smoothing"`
	// EMADecay is the weight EMA's decay; evaluation uses the EMA weights.
	EMADecay float64 `json:"ema_decay"`
	// CropPad and HFlip configure augmentation: a random crop of the image
	// padded by CropPad pixels (0: none) and random horizontal flips.
	CropPad int  `json:"crop_pad"`
	HFlip   bool `json:"hflip"`
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
	// Height and Width are the training image size.
	Height int `json:"height"`
	Width  int `json:"width"`
}

// Validate checks the recipe's values.
func (r Recipe) Validate() error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("recipe: %s: "+format, append([]any{field}, args...)...))
	}
	if r.Epochs < 1 {
		bad("epochs", "%d, want >= 1", r.Epochs)
	}
	if r.Batch < 1 {
		bad("batch", "%d, want >= 1", r.Batch)
	}
	if !(r.LR > 0) || math.IsInf(r.LR, 0) {
		bad("lr", "%v, want > 0", r.LR)
	}
	if !(r.WarmupEpochs >= 0) || r.WarmupEpochs >= float64(max(r.Epochs, 1)) {
		bad("warmup_epochs", "%v, want in [0, epochs %d)", r.WarmupEpochs, r.Epochs)
	}
	if !(r.Momentum >= 0 && r.Momentum < 1) {
		bad("momentum", "%v, want in [0, 1)", r.Momentum)
	}
	if !(r.WeightDecay >= 0) || math.IsInf(r.WeightDecay, 0) {
		bad("weight_decay", "%v, want >= 0", r.WeightDecay)
	}
	if !(r.AGCClip >= 0) || math.IsInf(r.AGCClip, 0) {
		bad("agc_clip", "%v, want >= 0", r.AGCClip)
	}
	if !(r.LabelSmoothing >= 0 && r.LabelSmoothing < 1) {
		bad("label_smoothing", "%v, want in [0, 1)", r.LabelSmoothing)
	}
	if !(r.EMADecay >= 0 && r.EMADecay < 1) {
		bad("ema_decay", "%v, want in [0, 1)", r.EMADecay)
	}
	if r.CropPad < 0 {
		bad("crop_pad", "%d, want >= 0", r.CropPad)
	}
	return errors.Join(errs...)
}

// Options configure Train.
type Options struct {
	// Kernels is the device to train on.
	Kernels *kernels.Kernels
	// Model is the network. On resume it must match the checkpoint's
	// (CheckCompatible); an empty Model (no Depths) takes the checkpoint's.
	Model nfnet.Config
	// Train and Test are the splits, normalised alike (Recipe.Mean/Std
	// record how). Test may be nil: no evaluation.
	Train, Test *data.Dataset
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
	// OnStep, when set, is called after every step with the global step
	// number (from 1) and its loss, on the loop's goroutine.
	OnStep func(step int64, loss float32)
}

// Result is what Train returns.
type Result struct {
	// Dir is the run directory; Checkpoint the last checkpoint written.
	Dir, Checkpoint string
	// Metrics holds every epoch's metrics, including those of the run
	// this one resumed.
	Metrics []EpochMetrics
	// Step is the number of steps done; Interrupted is set when the
	// context ended the run early (after a checkpoint was saved).
	Step        int64
	Interrupted bool
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
