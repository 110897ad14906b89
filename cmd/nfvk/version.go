package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/nfvk/nfvk/bench"
)

func runVersion(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildVersion())
	return nil
}

// buildVersion is the module version and VCS revision the binary was
// built from: "(devel)" and the checkout's commit for go build in the
// source tree, the tag for go install ...@version (whose builds carry no
// VCS stamp). It is what bench reports record, so that figures can be
// traced to the code that produced them.
func buildVersion() bench.Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bench.Build{Version: "unknown"}
	}
	b := bench.Build{Version: info.Main.Version}
	if b.Version == "" {
		b.Version = "(devel)" // go run and go test leave it empty
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}
