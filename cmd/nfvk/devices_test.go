package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// TestDevicesVerbose: devices -v shows the heaps, the memory types with
// the ones chosen, the queue family nfvk uses and the limits it respects.
func TestDevicesVerbose(t *testing.T) {
	if _, err := engine.Devices(); err != nil {
		t.Skipf("no Vulkan device: %v", err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"devices", "-v"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"heap 0:", "memory type 0:", "tensors", "read staging", "<- nfvk's queue",
		"maxMemoryAllocationSize", "minStorageBufferOffsetAlignment", "invocations per workgroup", "selected ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("devices -v output lacks %q:\n%s", want, out.String())
		}
	}
}
