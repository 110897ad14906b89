// Command nfvk trains and runs NFNets on any Vulkan device. Each
// subcommand is a thin layer over nfvk's Go packages.
//
//	nfvk devices        list the Vulkan devices as nfvk sees them
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nfvk/nfvk/engine"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"devices", "list the Vulkan devices and the one nfvk would pick", runDevices},
		{"forward", "logits, loss, gradients and training steps of a model at given weights (parity with PyTorch)", runForward},
		{"train", "train a model on a dataset (default: nano on Fashion-MNIST); --help lists the recipe", runTrain},
		{"eval", "test accuracy of a checkpoint's EMA weights", runEval},
		{"predict", "top-k classes of image files with a checkpoint", runPredict},
		{"data", "streamed datasets: check and index (class counts, bad files), preview a batch, write tar shards", runData},
		{"export", "a checkpoint's weights as a timm state_dict (safetensors) for PyTorch", runExport},
		{"tune", "measure kernel candidates on a model's shapes on this device and cache the fastest per shape", runTune},
		{"bench", "microbenchmarks (kernels, references, training steps) on a device; compare two runs", runBench},
		{"version", "the module version and VCS revision nfvk was built from", runVersion},
	}
}

func main() {
	ctx, stop := notifyStop(os.Stderr, os.Exit)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nfvk:", err)
		if sig, ok := stopCause(ctx); ok {
			os.Exit(exitCode(sig))
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return fmt.Errorf("no command given")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

// closeDevice closes dev and, when the validation layer ran
// (NFVK_VALIDATE=1), turns every message it reported into the command's
// error, so a validation problem never passes silently.
func closeDevice(dev *engine.Device, retErr *error) {
	cerr := dev.Close()
	*retErr = errors.Join(*retErr, cerr, engine.ValidationError(dev.ValidationMessages()))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nfvk <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nenvironment: NFVK_DEVICE (index or name substring) picks the device; NFVK_VALIDATE=1 enables the Vulkan validation layer.")
}
