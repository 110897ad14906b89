package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nfvk/nfvk/internal/atomicfile"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

const exportUsage = "usage: nfvk export [flags] RUN|CHECKPOINT --out FILE"

const exportHelp = `Writes a checkpoint's weights (a file, or a run directory: its latest) as
a safetensors file of timm's state_dict: the names, shapes and order of
timm's NormFreeNet for the same config, which loads it with
model.load_state_dict(sd, strict=True). The EMA weights by default (the ones
eval reports), the raw weights with --raw. The metadata holds the config
(timm NfCfg field names), the step and which weights.

A checkpoint with NaN or Inf weights is refused, naming the tensor, and so
is a config with DeepMind parameter names (param_names "deepmind"): timm
has neither those names nor DeepMind's stem, weight standardisation and
GELU. An existing FILE is replaced only with --force; the checkpoint read
is never replaced. The file is written atomically.
`

// runExport is `nfvk export RUN|CHECKPOINT --out FILE`: a trained model
// back to PyTorch. It is a thin layer over train.WriteExport.
func runExport(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		out   = fs.String("out", "", "output safetensors `file` (required)")
		raw   = fs.Bool("raw", false, "export the raw weights instead of the EMA")
		force = fs.Bool("force", false, "replace FILE if it exists")
	)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText(fs, exportUsage, exportHelp))
			return nil
		}
		return fmt.Errorf("export: %w\n%s", err, flagUsage(fs, exportUsage))
	}
	if len(pos) != 1 {
		return fmt.Errorf("export: want one run directory or checkpoint, got %d arguments\n%s", len(pos), flagUsage(fs, exportUsage))
	}
	if *out == "" {
		return fmt.Errorf("export: missing --out\n%s", flagUsage(fs, exportUsage))
	}
	ck, err := loadCheckpointFor(pos[0])
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// Never over the checkpoint read, even with --force: losing a run's
	// state to a typo is never intended.
	if err := atomicfile.CheckTarget("--out", *out, *force, ck.Path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := train.WriteExport(*out, ck, *raw); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	which := "EMA"
	if *raw {
		which = "raw"
	}
	specs, err := nfnet.Params(ck.Config)
	if err != nil { // WriteExport has built the same specs: unreachable
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %s weights of %s (config %q, step %d, epoch %d), %d tensors, %d parameters, timm names\n",
		*out, which, ck.Path, ck.Config.Name, ck.Step, ck.Epoch, len(specs), nfnet.CountParams(specs))
	if d := train.TimmDifferences(ck.Config); len(d) > 0 {
		fmt.Fprintf(stdout, "note: the weights load into timm by name and shape, but timm's model computes otherwise:\n  %s\n",
			strings.Join(d, "\n  "))
	}
	return nil
}

// parseInterspersed parses args with fs, accepting flags after the
// positional arguments too (`nfvk export RUN --out FILE` reads naturally),
// which the flag package alone stops at. A "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
