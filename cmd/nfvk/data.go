package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/train"
)

const dataUsage = `usage: nfvk data index [--shards] DIR
       nfvk data preview [flags] DIR
       nfvk data shards [--per-shard N] SRC DST`

const dataHelp = `Streamed datasets (nfvk train --data folder or shards):

  index    builds and checks the index of DIR/train and DIR/val (or test):
           every image is decoded once (the result is cached beside the
           split, .train.nfvk-index), and the class counts and every bad
           file are printed. It fails when a file is bad, as train does
           without --skip-bad.
  preview  writes a PNG grid of one training batch as the model sees it
           (crop, flip, RandAugment, MixUp/CutMix, un-normalised).
  shards   writes a folder dataset as webdataset tar shards (DST/train,
           DST/val, DST/classes.txt) in the same sample order, so a run on
           the shards reproduces one on the folder.
`

// runData is `nfvk data`: index, preview and shards.
func runData(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dataUsage, "\n\n", dataHelp)
		if len(args) == 0 {
			return errors.New("data: no subcommand given")
		}
		return nil
	}
	switch args[0] {
	case "index":
		return runDataIndex(args[1:], stdout)
	case "preview":
		return runDataPreview(args[1:], stdout)
	case "shards":
		return runDataShards(args[1:], stdout)
	}
	return fmt.Errorf("data: unknown subcommand %q\n%s", args[0], dataUsage)
}

// dataFlags parses a subcommand's flags and wants nargs arguments.
func dataFlags(fs *flag.FlagSet, args []string, nargs int, stdout io.Writer) (help bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText(fs, dataUsage, dataHelp))
			return true, nil
		}
		return false, fmt.Errorf("data %s: %w\n%s", fs.Name(), err, flagUsage(fs, dataUsage))
	}
	if fs.NArg() != nargs {
		return false, fmt.Errorf("data %s: want %d arguments, got %d\n%s", fs.Name(), nargs, fs.NArg(), dataUsage)
	}
	return false, nil
}

// kindOf is "shards" when DIR/train holds .tar files, else "folder".
func kindOf(dir string, shards bool) string {
	if m, _ := filepath.Glob(filepath.Join(dir, "train", "*.tar")); shards || len(m) > 0 {
		return "shards"
	}
	return "folder"
}

func runDataIndex(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("index", flag.ContinueOnError)
	shards := fs.Bool("shards", false, "DIR holds tar shards (detected when DIR/train has .tar files)")
	if help, err := dataFlags(fs, args, 1, stdout); help || err != nil {
		return err
	}
	dir := fs.Arg(0)
	src := dataSource{name: kindOf(dir, *shards), dir: dir, skipBad: true}
	_, _, reps, err := data.OpenSplits(dir, src.openOne)
	for _, rep := range reps {
		printReport(stdout, rep)
	}
	if err != nil {
		return fmt.Errorf("data index: %w", err)
	}
	var bad []error
	for _, rep := range reps {
		if err := rep.Err(); err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("data index: %w", errors.Join(bad...))
	}
	fmt.Fprintf(stdout, "%s: ready (%s)\n", dir, data.DecoderName())
	return nil
}

func printReport(w io.Writer, rep *data.IndexReport) {
	n := 0
	for _, c := range rep.Counts {
		n += c
	}
	fmt.Fprintf(w, "%s: %d images in %d classes (%d decoded now, %d known from the index cache), %d bad\n",
		rep.Dir, n, len(rep.Classes), rep.Checked, rep.Cached, len(rep.Bad))
	for i, c := range rep.Classes {
		fmt.Fprintf(w, "  %6d  %s\n", rep.Counts[i], c)
	}
	for _, b := range rep.Bad {
		fmt.Fprintf(w, "  bad: %v\n", b.Err)
	}
	if rep.CacheErr != nil {
		fmt.Fprintf(w, "  note: %v\n", rep.CacheErr)
	}
}

func runDataPreview(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	rec := train.Recipe{HFlip: true}
	var (
		out     = fs.String("out", "preview.png", "PNG `file` to write")
		size    = fs.Int("size", 128, "image side")
		n       = fs.Int("n", 16, "images in the batch")
		seed    = fs.Uint64("seed", 1, "data seed")
		eval    = fs.Bool("eval", false, "show test images (resize to size+32, centre crop) instead")
		shards  = fs.Bool("shards", false, "DIR holds tar shards")
		skipBad = fs.Bool("skip-bad", false, "leave out the files the index finds bad")
	)
	fs.Float64Var(&rec.MixUp, "mixup", 0, "MixUp alpha")
	fs.Float64Var(&rec.CutMix, "cutmix", 0, "CutMix alpha")
	fs.Var(raFlag{&rec}, "randaugment", "RandAugment `LAYERS,MAGNITUDE`")
	if help, err := dataFlags(fs, args, 1, stdout); help || err != nil {
		return err
	}
	src := dataSource{name: kindOf(fs.Arg(0), *shards), dir: fs.Arg(0), skipBad: *skipBad, log: stdout}
	ds, err := src.openSources()
	if err != nil {
		return fmt.Errorf("data preview: %w", err)
	}
	rec.Height, rec.Mean, rec.Std = *size, ds.stats.Mean, ds.stats.Std
	st, ev, err := ds.streams(rec)
	if err != nil {
		return fmt.Errorf("data preview: %w", err)
	}
	cfg := data.Config{BatchSize: *n, Shuffle: true, Seed: *seed, Remainder: data.PadLast}
	if rec.MixUp > 0 || rec.CutMix > 0 {
		cfg.Mix = &data.Mix{MixUpAlpha: rec.MixUp, CutMixAlpha: rec.CutMix}
	}
	if *eval {
		st, cfg.Mix = ev, nil
	}
	p, err := data.NewStreamPipeline(st, cfg)
	if err != nil {
		return fmt.Errorf("data preview: %w", err)
	}
	b, err := p.Batch(data.Position{}, nil)
	if err != nil {
		return fmt.Errorf("data preview: %w", err)
	}
	if err := data.WritePreview(*out, b, rec.Mean, rec.Std, 8); err != nil {
		return fmt.Errorf("data preview: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d images of %dx%d\n", *out, b.N, b.W, b.H)
	return nil
}

func runDataShards(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shards", flag.ContinueOnError)
	per := fs.Int("per-shard", 1000, "samples per shard")
	if help, err := dataFlags(fs, args, 2, stdout); help || err != nil {
		return err
	}
	srcDir, dst := fs.Arg(0), fs.Arg(1)
	src := dataSource{name: "folder", dir: srcDir}
	ds, err := src.openSources()
	if err != nil {
		return fmt.Errorf("data shards: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("data shards: %w", err)
	}
	for _, sp := range []struct {
		name string
		s    data.Source
	}{{"train", ds.trainSrc}, {"val", ds.testSrc}} {
		if err := data.WriteShards(sp.s, filepath.Join(dst, sp.name), *per); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d samples in %s\n", sp.name, sp.s.Len(), filepath.Join(dst, sp.name))
	}
	if err := data.WriteClassList(filepath.Join(dst, "classes.txt"), ds.trainSrc.Classes()); err != nil {
		return fmt.Errorf("data shards: %w", err)
	}
	return nil
}
