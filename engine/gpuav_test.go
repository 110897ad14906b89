package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestGPUAssistedValidation writes past the end of a small buffer and
// expects GPU-assisted validation to report it: the layer bounds accesses
// by the VkBuffer, so each buffer has its own block in this mode (in a
// shared 64 MiB block the overrun would land in a neighbour unseen).
func TestGPUAssistedValidation(t *testing.T) {
	if !ValidationAvailable() {
		t.Skip("validation layer not installed (apt install vulkan-validationlayers)")
	}
	d, err := Open(Options{Validate: true, GPUAssistedValidation: true, RequireValidation: true})
	if errors.Is(err, ErrNoLoader) || errors.Is(err, ErrNoDevice) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fill, err := d.Pipeline(shader(t, "fill"), 64)
	if err != nil {
		t.Fatal(err)
	}
	small, next := newBuf(t, d, "small", 64), newBuf(t, d, "next", 4096)
	if small.blk == next.blk {
		t.Fatalf("buffers share block %d under GPU-assisted validation", small.blk.id)
	}
	p := d.NewProgram("overrun", ProgramOptions{})
	defer p.Close()
	const n = 1024 // floats written into a 64-float buffer
	if err := p.Dispatch("fill past the end", fill, groups(n), push(n, float32(1)), Out(small)); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range d.ValidationMessages() {
		found = found || strings.Contains(m.Text, "out of bounds")
	}
	if !found {
		t.Error("GPU-assisted validation reported no out-of-bounds access")
	}
}
