package nfnet

// NanoName is the name of the default small model (Nano).
const NanoName = "nano"

// Nano returns nfvk's default small model for 28-32 px images with
// inChans channels and numClasses classes. PLACEHOLDER: tuned below.
func Nano(inChans, numClasses int) Config {
	c := DefaultConfig()
	c.Name = NanoName
	c.InChans = inChans
	c.NumClasses = numClasses
	c.Depths = []int{1, 1, 2, 1}
	c.Channels = []int{64, 128, 256, 256}
	c.StemType = "deep_quad"
	c.StemChs = 32
	c.GroupSize = 16
	c.AttnLayer = "se"
	c.AttnRdRatio = 0.5
	c.NumFeatures = 512
	c.ExtraConv = true
	c.Skipinit = true
	c.ActLayer = "gelu"
	c.GammaInAct = true
	c.SamePadding = true
	return c
}

// Recipe is a training recipe's numbers. train.Recipe holds the same
// fields; this copy lets the model and its recipe live side by side
// without nfnet importing the training loop.
type Recipe struct {
	Epochs, Batch         int
	LR, WarmupEpochs      float64
	Momentum, WeightDecay float64
	AGCClip               float64
	LabelSmoothing        float64
	EMADecay              float64
	CropPad               int
	HFlip                 bool
	Seed                  uint64
}

// NanoRecipe is the recipe make train uses with Nano on Fashion-MNIST.
func NanoRecipe() Recipe {
	return Recipe{Epochs: 5, Batch: 128, LR: 0.1, WarmupEpochs: 0.5, Momentum: 0.9, WeightDecay: 5e-5,
		AGCClip: 0.04, LabelSmoothing: 0.1, EMADecay: 0.998, CropPad: 2, HFlip: true, Seed: 0}
}
