package main

import (
	"flag"
	"io"
	"strings"
)

// usageText renders a command's usage line, its description (empty in
// error messages) and its flags.
func usageText(fs *flag.FlagSet, usage, desc string) string {
	var b strings.Builder
	b.WriteString(usage)
	b.WriteString("\n")
	if desc != "" {
		b.WriteString("\n")
		b.WriteString(desc)
	}
	b.WriteString("\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// flagUsage is usageText without the description, for argument errors.
func flagUsage(fs *flag.FlagSet, usage string) string { return usageText(fs, usage, "") }
