package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nfvk/nfvk/engine"
)

func runDevices(ctx context.Context, args []string, stdout io.Writer) (retErr error) {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	infos, err := engine.Devices()
	if err != nil {
		return err
	}
	for _, in := range infos {
		fmt.Fprintln(stdout, in)
	}
	d, err := engine.Open(engine.Options{})
	if err != nil {
		return err
	}
	defer closeDevice(d, &retErr)
	sel := "best available"
	if v := os.Getenv("NFVK_DEVICE"); v != "" {
		sel = "NFVK_DEVICE=" + v
	}
	fmt.Fprintf(stdout, "selected (%s): #%d %s\n", sel, d.Info().Index, d.Info().Name)
	return nil
}
