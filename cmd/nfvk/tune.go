package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

const tuneUsage = "usage: nfvk tune [--variant f0 | --config file.json] [--batch n] [--px n] [--budget 5s] [--force] [--device d]"

const tuneHelp = `Measures the kernel candidates (GEMM tiles, conv tiles, backward-filter
split or chain and slice counts, reduction workgroups) on the shapes of a
model's training step on this device, keeps per shape the fastest that
matches the CPU reference, caches the table next to the pipeline cache
(keyed by vendor, device, driver version and pipelineCacheUUID) and prints
it. nfvk train does the same on its first run on a device. CPU devices
(lavapipe) keep their CPU kernels unless --force or NFVK_TUNE=1.

`

func runTune(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	var (
		variant    = fs.String("variant", "", "model variant (f0..f7, dm_nfnet_f0..); default: nano for 1-channel 28 px images, 10 classes")
		configPath = fs.String("config", "", "model config `file` (JSON) instead of --variant")
		batch      = fs.Int("batch", 128, "training batch size")
		px         = fs.Int("px", 0, "training image size (28 for the default nano; needed with --variant and --config)")
		evalBatch  = fs.Int("eval-batch", 0, "also tune the eval pass at this batch size")
		budget     = fs.Duration("budget", 5*time.Second, "time bound of the measurements")
		force      = fs.Bool("force", os.Getenv("NFVK_TUNE") == "1", "tune on a CPU device (lavapipe) too; NFVK_TUNE=1 sets it")
		device     = fs.String("device", "", "Vulkan device: index or name substring")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, tuneHelp, flagUsage(fs, tuneUsage))
			return nil
		}
		return fmt.Errorf("tune: %w\n%s", err, flagUsage(fs, tuneUsage))
	}
	if fs.NArg() != 0 || *batch < 1 || *px < 0 || *evalBatch < 0 || *budget <= 0 {
		return fmt.Errorf("tune: want no arguments, --batch >= 1, --px >= 0, --eval-batch >= 0 and a positive --budget\n%s", flagUsage(fs, tuneUsage))
	}
	cfg := nfnet.Nano(1, 10)
	size := 28
	var err error
	switch {
	case *configPath != "" && *variant != "":
		return fmt.Errorf("tune: --config and --variant: give one")
	case *configPath != "":
		cfg, err = nfnet.LoadConfig(*configPath)
		size = 0
	case *variant != "":
		cfg, err = nfnet.Variant(*variant)
		size = 0
	}
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if *px > 0 {
		size = *px
	} else if size == 0 {
		return fmt.Errorf("tune: --px: the training image size of %s (e.g. 192 for f0)", cfg.Name)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	dev, err := openDevice(*device)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	defer closeDevice(dev, &retErr)
	k := kernels.New(dev)
	if !k.TuneApplies(*force) {
		fmt.Fprintf(stdout, "%s is a CPU device (tuning class %q): it keeps its CPU kernels; --force or NFVK_TUNE=1 tunes it anyway\n", dev.Info().Name, k.Tuning().Class)
		return nil
	}
	rec := train.NanoRecipe()
	rec.Batch, rec.Height, rec.Width = *batch, size, size
	start := time.Now()
	t, err := train.Tune(ctx, k, l, train.TuneOptions{Recipe: rec, EvalBatch: *evalBatch, Setup: kernels.TuneSetup{
		Force: *force, TuneOptions: kernels.TuneOptions{Budget: *budget, Progress: func(p kernels.TuneProgress) {
			if p.Done < p.Total {
				fmt.Fprintf(os.Stderr, "[%d/%d %5.1fs] %s\n", p.Done+1, p.Total, time.Since(start).Seconds(), p.Entry)
			}
		}}}})
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	fmt.Fprintf(stdout, "device: %s (%s), tuning class %q\nkey: %v\ncache: %s\n", dev.Info().Name, dev.Info().Driver, t.Class, t.Device, k.TuneCachePath())
	printTuneTable(stdout, t)
	return nil
}

// printTuneTable writes each entry's candidates with their times, the
// chosen one marked.
func printTuneTable(w io.Writer, t *kernels.TuneTable) {
	for _, e := range t.Entries {
		fmt.Fprintf(w, "\n%s\n", e.Name())
		for i, c := range e.Candidates {
			mark := " "
			if i == e.Chosen {
				mark = "*"
			}
			v := fmt.Sprintf("%10.0f µs", c.Micros)
			if c.Err != "" {
				v = fmt.Sprintf("%13s  %s", "-", strings.SplitN(c.Err, "\n", 2)[0])
			}
			fmt.Fprintf(w, "  %s %-52s %s\n", mark, c.Name, v)
		}
	}
}

// tuneSetup is how nfvk train tunes on its first run on a device: within
// the default budget, forced on CPU devices by NFVK_TUNE=1, reporting
// each shape and an ignored cache file on w.
func tuneSetup(w io.Writer) *kernels.TuneSetup {
	return &kernels.TuneSetup{Force: os.Getenv("NFVK_TUNE") == "1",
		TuneOptions: kernels.TuneOptions{Progress: func(p kernels.TuneProgress) {
			if p.Done < p.Total {
				fmt.Fprintf(w, "tuning kernels for this device [%d/%d] %s\n", p.Done+1, p.Total, p.Entry)
			}
		}},
		Warn: func(s string) { fmt.Fprintln(os.Stderr, "nfvk: warning:", s) }}
}
