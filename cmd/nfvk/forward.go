package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/atomicfile"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
	"github.com/nfvk/nfvk/train"
)

const forwardUsage = "usage: nfvk forward --config C.json | --variant V --weights W.safetensors --input IN.safetensors --out OUT.safetensors [flags]"

const forwardHelp = `Writes the logits of a model at given weights (eval mode); with --grad or
--steps also the loss; with --grad grad/<name>; with --steps N the losses
[N] and param/<name> after N training steps at a constant learning rate.
It is the parity check against a PyTorch model (timm's NFNets).
`

// runForward is `nfvk forward`: the parity command people use to check
// nfvk against their PyTorch model. It is a thin layer over train.Parity.
func runForward(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The optimizer of --steps: plain momentum SGD unless flags say more;
	// AGC (when on) clips the skip gains too, as timm does.
	rec := agc.Recipe{Epochs: 1, LR: 0.1, Momentum: 0.9, AGCEps: agc.DefaultEps, AGCSkipGains: true}
	bindOptimizer(fs, &rec, false)
	var (
		configPath = fs.String("config", "", "model config (JSON, timm NfCfg field names) `file`")
		variant    = fs.String("variant", "", "named variant (f0..f7, f0+..f7+, dm_nfnet_f0..f6) instead of --config")
		weights    = fs.String("weights", "", "parameters by timm name (safetensors) `file`")
		input      = fs.String("input", "", "safetensors `file` holding input [N,C,H,W] (F32) and, for --grad/--steps, labels [N] (I64) or soft targets [N,classes] (F32, named targets: timm's SoftTargetCrossEntropy, used when present)")
		outPath    = fs.String("out", "", "output safetensors `file`")
		grad       = fs.Bool("grad", false, "also write loss and grad/<name> at the given weights")
		smoothing  = fs.Float64("label-smoothing", 0, "label smoothing of the cross-entropy")
		steps      = fs.Int("steps", 0, "run N training steps on the batch, then write param/<name>")
		useCPU     = fs.Bool("cpu", false, "compute with the CPU references instead of the Vulkan device")
		seed       = fs.Uint64("seed", 0, "random seed of the first step (stochastic depth, dropout)")
		force      = fs.Bool("force", false, "replace --out if it exists (never an input file)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText(fs, forwardUsage, forwardHelp))
			return nil
		}
		return fmt.Errorf("forward: %w\n%s", err, flagUsage(fs, forwardUsage))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("forward: unexpected arguments %q", fs.Args())
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"weights", *weights}, {"input", *input}, {"out", *outPath}} {
		if f.v == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if (*configPath == "") == (*variant == "") {
		missing = append(missing, "exactly one of --config, --variant")
	}
	if len(missing) > 0 {
		return fmt.Errorf("forward: missing %s\n%s", strings.Join(missing, ", "), flagUsage(fs, forwardUsage))
	}
	if *steps < 0 {
		return fmt.Errorf("forward: --steps %d: must be >= 0", *steps)
	}
	// Checked before any work, so a mistyped --out costs nothing.
	if err := atomicfile.CheckTarget("--out", *outPath, *force, *weights, *input, *configPath); err != nil {
		return fmt.Errorf("forward: %w", err)
	}

	var cfg nfnet.Config
	var err error
	if *configPath != "" {
		cfg, err = nfnet.LoadConfig(*configPath)
	} else {
		cfg, err = nfnet.Variant(*variant)
	}
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		return fmt.Errorf("forward: config %s%s: %w", *configPath, *variant, err)
	}
	w, err := nfnet.LoadWeights(*weights, l)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	x, xShape, labels, targets, err := readTrainBatch(*input, *grad || *steps > 0, l.Head.Classes)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}

	var k *kernels.Kernels // nil: the CPU references
	if !*useCPU {
		dev, err := engine.Open(engine.Options{})
		if err != nil {
			return fmt.Errorf("forward: open the Vulkan device (or use --cpu): %w", err)
		}
		defer closeDevice(dev, &retErr)
		k = kernels.New(dev)
	}
	res, err := train.Parity(ctx, k, l, w, x, xShape, labels, train.ParityOptions{
		Grad: *grad, LabelSmoothing: *smoothing, Steps: *steps, Recipe: rec, Seed: *seed, Targets: targets})
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}

	out := []safetensors.Tensor{safetensors.F32("logits", []int{xShape[0], l.Head.Classes}, res.Logits)}
	if *grad || *steps > 0 {
		out = append(out, safetensors.F32("loss", nil, []float32{res.Loss}))
	}
	if *steps > 0 {
		out = append(out, safetensors.F32("losses", []int{len(res.Losses)}, res.Losses))
	}
	for _, sp := range l.Params() {
		if g, ok := res.Grads[sp.Name]; ok { // none for a frozen parameter
			out = append(out, safetensors.F32("grad/"+sp.Name, sp.Shape, g))
		}
		if res.Params != nil {
			out = append(out, safetensors.F32("param/"+sp.Name, sp.Shape, res.Params[sp.Name]))
		}
	}
	if err := safetensors.WriteFile(*outPath, out, map[string]string{"producer": "nfvk forward", "config": cfg.Name}); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: logits %v", *outPath, []int{xShape[0], l.Head.Classes})
	if *grad || *steps > 0 {
		fmt.Fprintf(stdout, ", loss %.7g", res.Loss)
	}
	if res.Grads != nil {
		fmt.Fprintf(stdout, ", %d gradients", len(res.Grads))
	}
	if *steps > 0 {
		fmt.Fprintf(stdout, ", %d parameters after %d steps (losses %v)", len(res.Params), *steps, res.Losses)
	}
	fmt.Fprintln(stdout)
	return nil
}

// readBatch reads input (F32 [N,C,H,W]) and, when needLabels, labels
// (integer [N]) from a safetensors file.
func readBatch(path string, needLabels bool) (x []float32, shape []int, labels []int64, err error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input: %w", err)
	}
	defer f.Close()
	if _, ok := f.Info("input"); !ok {
		return nil, nil, nil, fmt.Errorf("input %s: no tensor named \"input\" (has %s)", path, names(f))
	}
	x, shape, err = f.Float32s("input")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input %s: %w", path, err)
	}
	if len(shape) != 4 {
		return nil, nil, nil, fmt.Errorf("input %s: tensor input has shape %v, want [N, C, H, W]", path, shape)
	}
	if !needLabels {
		return x, shape, nil, nil
	}
	if _, ok := f.Info("labels"); !ok {
		return nil, nil, nil, fmt.Errorf("input %s: --grad and --steps need a tensor named \"labels\" (has %s)", path, names(f))
	}
	labels, ls, err := f.Int64s("labels")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input %s: labels: %w", path, err)
	}
	if len(ls) != 1 || ls[0] != shape[0] {
		return nil, nil, nil, fmt.Errorf("input %s: labels have shape %v, want [%d] (one per input)", path, ls, shape[0])
	}
	return x, shape, labels, nil
}

func names(f *safetensors.File) string {
	n := f.Names()
	slices.Sort(n)
	if len(n) == 0 {
		return "no tensors"
	}
	return strings.Join(n, ", ")
}
