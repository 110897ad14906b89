// Package shaders holds nfvk's GLSL compute shaders and their committed
// SPIR-V, embedded so that building nfvk needs no shader compiler.
//
// Conventions every shader follows (package engine relies on them):
// entry point "main"; storage buffers in set 0, bindings 0..11 in the
// order the dispatch passes them; shapes and scalars in a push-constant
// block of at most 128 bytes; tile and workgroup sizes as specialization
// constants with constant_id 0, 1, ... (local_size_x_id = 0 etc.).
// Each shader's bindings, their readonly/writeonly qualifiers and its
// push-constant members are declared once more, on the host side, in
// kernels/contract_table.go; a kernels test reads every embedded module
// and fails when the two differ, so change both together.
// Shared GLSL lives in include/. `make shaders` (go generate) rebuilds
// the SPIR-V; a test fails when a committed .spv is stale.
package shaders

//go:generate go run ../tools/glslc -dir .

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed *.spv
var spv embed.FS

// SPIRV returns the SPIR-V of the shader name (its file name without
// .comp).
func SPIRV(name string) ([]byte, error) {
	b, err := spv.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shader %q: not embedded (known: %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Names lists the embedded shaders.
func Names() []string {
	ents, _ := spv.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(path.Base(e.Name()), ".spv"))
	}
	sort.Strings(out)
	return out
}
