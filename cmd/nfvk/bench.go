package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nfvk/nfvk/bench"
	"github.com/nfvk/nfvk/internal/atomicfile"
	"github.com/nfvk/nfvk/kernels"
)

const benchUsage = "usage: nfvk bench [flags]\n       nfvk bench compare A.json B.json"

const benchHelp = `Runs nfvk's microbenchmarks, the cases of make bench (kernels at fixed
shapes, the references PeakFMA and Copy, dispatch and submit costs,
training steps of named models), on one device, without the source tree.
Every figure is the median GPU time (timestamps) of --reps runs after two
warm-ups; GFLOP/s figures are compared with PeakFMA (the compute
ceiling), GB/s ones with Copy/64MiB (a reference, not a ceiling), both
measured in the same run whatever --filter selects.

"nfvk bench compare A.json B.json" prints two --json reports side by
side with the ratio B/A.
`

type benchFlags struct {
	device, filter, jsonPath    string
	quick, list, verbose, force bool
	heavy                       bool
	reps                        int
}

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runBenchCompare(args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f benchFlags
	fs.StringVar(&f.device, "device", "", "Vulkan device: index or name substring (default: $NFVK_DEVICE, else the best)")
	fs.StringVar(&f.filter, "filter", "", "run only the cases whose name matches this regular expression (e.g. 'SGEMM|Conv2D/a')")
	fs.BoolVar(&f.quick, "quick", false, "the small cases only, 3 runs each: under a minute on a CPU device")
	fs.BoolVar(&f.heavy, "heavy", false, "also the GPU-sized cases (dm_nfnet_f0's step at 192 px): minutes per step on a CPU device")
	fs.IntVar(&f.reps, "reps", 0, "timed runs per figure (default 5, 3 with --quick)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to this file (for nfvk bench compare)")
	fs.BoolVar(&f.force, "force", false, "replace the --json file if it exists")
	fs.BoolVar(&f.list, "list", false, "list the selected cases and exit")
	fs.BoolVar(&f.verbose, "v", false, "print each case's details (a training step's time by dispatch kind)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText(fs, benchUsage, benchHelp))
			return nil
		}
		return fmt.Errorf("%v\n%s", err, flagUsage(fs, benchUsage))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), flagUsage(fs, benchUsage))
	}
	if f.jsonPath != "" {
		// Checked before the cases run: minutes of measuring are not
		// lost to a file that would be refused at the end.
		if err := atomicfile.CheckTarget("--json", f.jsonPath, f.force); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	cases, err := bench.Select(f.filter, f.quick, f.heavy)
	if err != nil {
		return err
	}
	if len(cases) == 0 {
		quick := ""
		if f.quick {
			quick = " among the --quick ones"
		}
		return fmt.Errorf("no case matches --filter %q%s (nfvk bench --list lists them)", f.filter, quick)
	}
	if f.list {
		for _, c := range cases {
			fmt.Fprintln(stdout, c.Name)
		}
		return nil
	}
	reps := f.reps
	if reps <= 0 {
		reps = 5
		if f.quick {
			reps = 3
		}
	}
	return benchRun(ctx, f, cases, reps, stdout)
}

func benchRun(ctx context.Context, f benchFlags, cases []bench.Case, reps int, stdout io.Writer) (retErr error) {
	start := time.Now()
	dev, err := openDevice(f.device)
	if err != nil {
		return err
	}
	defer closeDevice(dev, &retErr)
	rep := &bench.Report{Nfvk: buildVersion(), Device: bench.Describe(dev.Info()), Host: bench.ThisHost(),
		Date: start.UTC(), Quick: f.quick, Reps: reps}
	fmt.Fprintf(os.Stderr, "%s on %s (%s)\n", rep.Nfvk, rep.Device.Name, rep.Device.Driver)
	env := &bench.Env{Dev: dev, Lib: kernels.New(dev), Reps: reps}
	if f.verbose {
		env.Log = func(s string) { fmt.Fprintln(os.Stderr, "    "+s) }
	}
	rep.Cases, err = bench.RunCases(ctx, env, cases, progressLine(os.Stderr, start))
	endProgress(os.Stderr)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep.WallS = time.Since(start).Seconds()
	if err := bench.WriteTable(stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d cases in %.1f s\n", len(rep.Cases), rep.WallS)
	if f.jsonPath != "" {
		if err := bench.WriteJSON(f.jsonPath, rep); err != nil {
			return err
		}
	}
	failed := 0
	for _, c := range rep.Cases {
		if c.Error != "" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed (see the table)", failed, len(rep.Cases))
	}
	return nil
}

// progressLine returns the progress callback: one line rewritten in place
// on a terminal, one line per case otherwise (a log keeps them all).
func progressLine(w *os.File, start time.Time) func(i, n int, name string) {
	tty := isTerminal(w)
	return func(i, n int, name string) {
		line := fmt.Sprintf("[%d/%d %5.1fs] %s", i+1, n, time.Since(start).Seconds(), name)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}

func endProgress(w *os.File) {
	if isTerminal(w) {
		fmt.Fprint(w, "\r\033[K")
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runBenchCompare(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("compare takes two reports\n%s", benchUsage)
	}
	a, err := bench.ReadJSON(args[0])
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	b, err := bench.ReadJSON(args[1])
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return bench.Compare(stdout, args[0], a, args[1], b)
}
