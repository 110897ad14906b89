package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/train"
)

// The one place the CLI names the recipe's settings: every flag is bound
// to its field, with the field's current value as the default, so train
// and forward cannot disagree on a name or copy a value by hand.

// bindOptimizer binds the optimizer flags to r; with schedule also the
// schedule's (epochs, warmup, EMA decay).
func bindOptimizer(fs *flag.FlagSet, r *agc.Recipe, schedule bool) {
	if schedule {
		fs.IntVar(&r.Epochs, "epochs", r.Epochs, "training epochs (the cosine schedule ends with the last)")
		fs.Float64Var(&r.WarmupEpochs, "warmup", r.WarmupEpochs, "linear learning-rate warmup in epochs (fractions allowed)")
		fs.Float64Var(&r.EMADecay, "ema", r.EMADecay, "weight EMA decay; test accuracy is measured with the EMA weights")
		fs.Float64Var(&r.LR, "lr", r.LR, "peak learning rate, reached after the warmup")
		fs.BoolVar(&r.LRScaleBatch, "lr-scale-batch", r.LRScaleBatch, "--lr is the rate per 256 images: the peak is lr * batch/256 (DeepMind's rule; batch counts every accumulated micro-batch)")
	} else {
		fs.Float64Var(&r.LR, "lr", r.LR, "learning rate")
	}
	fs.Float64Var(&r.Momentum, "momentum", r.Momentum, "SGD momentum")
	fs.BoolVar(&r.Nesterov, "nesterov", r.Nesterov, "Nesterov momentum")
	fs.Float64Var(&r.WeightDecay, "weight-decay", r.WeightDecay, "weight decay on conv and linear weights (not gains, biases, skip gains)")
	fs.Float64Var(&r.AGCClip, "agc", r.AGCClip, "adaptive gradient clipping lambda (0: off); scale it with lr")
	fs.Float64Var(&r.AGCEps, "agc-eps", r.AGCEps, fmt.Sprintf("AGC parameter-norm floor (0: %v)", agc.DefaultEps))
	if r.AGCUnits == 0 {
		r.AGCUnits = agc.DeepMind
	}
	fs.TextVar(&r.AGCUnits, "agc-units", r.AGCUnits, "AGC unit rule: deepmind (vectors and (O,1,1,1) gains one unit) or timm (ndim<=1 one unit, else per dim 0)")
	fs.Var((*nameList)(&r.AGCExclude), "agc-exclude", "comma-separated parameter names or module paths AGC leaves out (e.g. head.fc)")
	fs.Float64Var(&r.HeadLRMult, "head-lr-mult", r.HeadMult(), "learning-rate multiplier of the classifier (head.fc): a new head on a pretrained body learns faster")
	fs.Var((*nameList)(&r.Freeze), "freeze", "comma-separated parameter names or module prefixes (e.g. stem,stages.0) neither updated nor clipped; their gradients are not computed where the graph can prune them")
	fs.BoolVar(&r.AGCSkipGains, "agc-skip-gains", r.AGCSkipGains, "let AGC clip the zero-initialised skip gains too (DeepMind, timm); without it they are exempt, which lets residual branches open in short runs")
}

// bindRecipe binds every flag of a training recipe to r.
func bindRecipe(fs *flag.FlagSet, r *train.Recipe) {
	bindOptimizer(fs, &r.Recipe, true)
	fs.IntVar(&r.Batch, "batch", r.Batch, "batch size the device computes at once (with --accum-steps K, a micro-batch: K of them make one update)")
	fs.IntVar(&r.AccumSteps, "accum-steps", max(r.AccumSteps, 1), "sum the gradients of K micro-batches on the device before each AGC + optimizer step: trains like a batch of K*batch")
	fs.Float64Var(&r.LabelSmoothing, "label-smoothing", r.LabelSmoothing, "label smoothing of the training loss")
	fs.IntVar(&r.CropPad, "crop-pad", r.CropPad, "random-crop augmentation: pad by N pixels, crop back (0: off; default 2 for cifar10, 0 otherwise: folder and shards take random-resized crops)")
	fs.BoolVar(&r.HFlip, "hflip", r.HFlip, "random horizontal flips (on by default for cifar10, folder and shards; off for fashion-mnist and mnist, where a run of minutes underfits)")
	fs.Float64Var(&r.MixUp, "mixup", r.MixUp, "MixUp: blend image pairs with a Beta(alpha, alpha) weight, soft targets (0: off; 0.2 is common)")
	fs.Float64Var(&r.CutMix, "cutmix", r.CutMix, "CutMix: paste a box of the partner image, Beta(alpha, alpha) area (0: off; 1 is common); with --mixup too, each sample picks one")
	fs.Float64Var(&r.MixProb, "mix-prob", r.MixProb, "chance a batch is mixed with --mixup/--cutmix (0: always)")
	fs.Var(raFlag{r}, "randaugment", "RandAugment `LAYERS,MAGNITUDE` on streamed training images (--data folder, shards), e.g. 4,5 (DeepMind's F0); 0: off")
	fs.StringVar(&r.Precision, "precision", r.Precision, "activation storage: fp32 (default), fp16 or bf16, mixed precision: float16 (with dynamic loss scaling) or bfloat16 (without) activations, float32 weights, gradients and optimizer (README \"Mixed precision\")")
	fs.Float64Var(&r.LossScale, "loss-scale", r.LossScale, "fp16: initial dynamic loss scale, a power of two (0: 65536)")
	fs.IntVar(&r.LossScaleGrowth, "loss-scale-growth", r.LossScaleGrowth, "fp16: consecutive steps without overflow that double the loss scale (0: 2000)")
	fs.Uint64Var(&r.Seed, "seed", r.Seed, "seed of the initial weights and the device's random streams (shuffling and augmentation use seed+1)")
}

// recipeFlags lists the flags bindRecipe binds: what a resumed run takes
// from its checkpoint instead.
func recipeFlags() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	r := train.NanoRecipe()
	bindRecipe(fs, &r)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// nameList is a comma-separated list flag.
type nameList []string

func (n *nameList) String() string {
	if n == nil {
		return ""
	}
	return strings.Join(*n, ",")
}

func (n *nameList) Set(s string) error {
	*n = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*n = append(*n, v)
		}
	}
	return nil
}
