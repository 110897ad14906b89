package nfnet

// NanoName is the name of nfvk's default small model (Nano).
const NanoName = "nano"

// Nano returns nfvk's default model for small images (28-32 px: MNIST,
// Fashion-MNIST, CIFAR-10) with inChans channels and numClasses classes.
//
// It is an NFNet: the same blocks as the F series (weight-standardised
// convs with gains, a 1x1 - grouped 3x3 - 1x1 bottleneck with
// squeeze-excite, alpha = 0.2 residual scaling with the expected-variance
// beta, skip gains, gamma-scaled GELU, no normalisation layers), scaled to
// small inputs and to what a CPU running lavapipe trains in minutes:
//
//   - stem: a single 3x3 stride-2 conv to 16 channels (ImageNet NFNets
//     use four convs and stride 4): a 28x28 image keeps 14x14 positions
//     after the stem, where the F-series stem would leave 7x7;
//   - three stages of one block each, 32, 64 and 128 channels, at 7x7,
//     4x4 and 2x2 (transition blocks downsample with the NFNet average
//     pool + 1x1 conv shortcut);
//   - bottleneck ratio 0.5 with groups of 16 channels (as the F series,
//     whose group width is 128 at 4x the channels), SE with ratio 0.5,
//     no second grouped conv (conv2b): on this model it cost 15% of the
//     step for no gain in a short schedule;
//   - a final 1x1 conv to 256 features, global average pool, linear
//     classifier.
//
// About 100k parameters and 0.75 M multiply-adds per 28x28 image (the
// small_config.json model: 4.1 M at 32x32). train.NanoRecipe trains it.
func Nano(inChans, numClasses int) Config {
	c := DefaultConfig()
	c.Name = NanoName
	c.InChans = inChans
	c.NumClasses = numClasses
	c.StemType = "3x3"
	c.StemChs = 16
	c.Depths = []int{1, 1, 1}
	c.Channels = []int{32, 64, 128}
	c.GroupSize = 16
	c.BottleRatio = 0.5
	c.AttnLayer = "se"
	c.AttnRdRatio = 0.5
	c.AttnGain = 2
	c.NumFeatures = 256
	c.ExtraConv = false
	c.Skipinit = true
	c.ActLayer = "gelu"
	c.GammaInAct = true
	c.SamePadding = true
	return c
}
