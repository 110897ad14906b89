// Command glslc builds nfvk's shaders: every shaders/*.comp is compiled
// with `glslc -O --target-env=vulkan1.1` (Vulkan 1.1 SPIR-V 1.3: no
// LocalSizeId, so no maintenance4 needed), checked with spirv-val and
// for arrays sized by specialization constants (MoltenVK cannot run
// them: arrays are declared at a compile-time maximum, see
// shaders/include/limits.glsl), and written beside its source as .spv. The .spv files are committed and
// embedded, so `go build` needs no shader compiler.
//
//	go run ./tools/glslc            # rebuild what changed (make shaders)
//	go run ./tools/glslc -check     # fail if a committed .spv is stale
//	go run ./tools/glslc -force     # rebuild everything
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nfvk/nfvk/internal/spirv"
)

// TargetEnv is the Vulkan target every shader is compiled for.
const TargetEnv = "vulkan1.1"

func main() {
	dir := flag.String("dir", "shaders", "directory holding the .comp sources")
	checkOnly := flag.Bool("check", false, "only check that every .spv matches its source")
	force := flag.Bool("force", false, "rebuild every shader")
	flag.Parse()
	stale, err := build(*dir, *checkOnly, *force)
	if err != nil {
		fmt.Fprintln(os.Stderr, "glslc:", err)
		os.Exit(1)
	}
	if *checkOnly && len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "glslc: stale SPIR-V (run make shaders): %s\n", strings.Join(stale, " "))
		os.Exit(1)
	}
}

// sources lists the .comp files of dir, sorted.
func sources(dir string) ([]string, error) {
	srcs, err := filepath.Glob(filepath.Join(dir, "*.comp"))
	sort.Strings(srcs)
	return srcs, err
}

// compile returns the validated SPIR-V of src built with the macros
// defines.
func compile(src string, defines ...string) ([]byte, error) {
	tmp, err := os.CreateTemp("", "nfvk-*.spv")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	inc := filepath.Join(filepath.Dir(src), "include")
	args := []string{"-O", "--target-env=" + TargetEnv, "-I", inc}
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	cmd := exec.Command("glslc", append(args, "-o", tmp.Name(), src)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: glslc: %v\n%s", src, err, out)
	}
	if out, err := exec.Command("spirv-val", "--target-env", TargetEnv, tmp.Name()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: spirv-val: %v\n%s", src, err, out)
	}
	code, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	bad, err := spirv.SpecSizedArrays(code)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: arrays sized by specialization constants (declare them at a compile-time maximum, include/limits.glsl):\n\t%s",
			src, strings.Join(bad, "\n\t"))
	}
	return code, nil
}

// build compiles every source; with checkOnly it writes nothing and
// returns the sources whose .spv differs from a fresh compile.
func build(dir string, checkOnly, force bool) (stale []string, err error) {
	srcs, err := sources(dir)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no .comp files in %s", dir)
	}
	for _, src := range srcs {
		outs, err := outputs(src)
		if err != nil {
			return nil, err
		}
		for _, o := range outs {
			old, _ := os.ReadFile(o.spv)
			spv, err := compile(src, o.defines...)
			if err != nil {
				return nil, err
			}
			if bytes.Equal(old, spv) && !force {
				continue
			}
			stale = append(stale, o.spv)
			if checkOnly {
				continue
			}
			if err := os.WriteFile(o.spv, spv, 0o644); err != nil {
				return nil, err
			}
			fmt.Println("glslc:", o.spv)
		}
	}
	return stale, nil
}
