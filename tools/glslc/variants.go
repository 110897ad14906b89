package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// variantTag marks a source line declaring a variant: the shader is
// compiled once more with -D<DEFINE> into <name>_<suffix>.spv, e.g.
//
//	// nfvk:variant f16 ACT_F16
//
// builds act_relu_f16.spv with ACT_F16 defined (float16 activation
// storage, include/storage.glsl).
const variantTag = "// nfvk:variant "

// output is one module built from a source: its .spv path and the
// macros defined for it.
type output struct {
	spv     string
	defines []string
}

// outputs lists the modules src builds: its own .spv and one per
// declared variant.
func outputs(src string) ([]output, error) {
	base := strings.TrimSuffix(src, ".comp")
	outs := []output{{spv: base + ".spv"}}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), variantTag)
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) < 2 {
			return nil, fmt.Errorf("%s:%d: %q: want %q<suffix> <DEFINE>...", src, line, sc.Text(), variantTag)
		}
		outs = append(outs, output{spv: base + "_" + fs[0] + ".spv", defines: fs[1:]})
	}
	return outs, sc.Err()
}

// allOutputs maps every .spv path the sources of dir build to its source.
func allOutputs(dir string) (map[string]string, error) {
	srcs, err := sources(dir)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, src := range srcs {
		outs, err := outputs(src)
		if err != nil {
			return nil, err
		}
		for _, o := range outs {
			m[filepath.Clean(o.spv)] = src
		}
	}
	return m, nil
}
