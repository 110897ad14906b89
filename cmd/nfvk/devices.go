package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nfvk/nfvk/engine"
)

func runDevices(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "also list each device's heaps, memory types, queue families and limits, and which ones nfvk uses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	infos, err := engine.Devices()
	if err != nil {
		return err
	}
	d, err := engine.Open(engine.Options{})
	if err != nil {
		return err
	}
	defer closeDevice(d, &retErr)
	for _, in := range infos {
		fmt.Fprintln(stdout, in)
		if *verbose {
			if in.Index == d.Info().Index {
				in = d.Info() // as opened: NFVK_FORCE_STAGING and NFVK_LIMITS applied
			}
			fmt.Fprint(stdout, indent(in.Details(), "    "))
		}
	}
	sel := "best available"
	if v := os.Getenv("NFVK_DEVICE"); v != "" {
		sel = "NFVK_DEVICE=" + v
	}
	fmt.Fprintf(stdout, "selected (%s): #%d %s\n", sel, d.Info().Index, d.Info().Name)
	return nil
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}
