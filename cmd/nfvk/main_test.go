package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

func TestDevicesCommand(t *testing.T) {
	if _, err := engine.Devices(); err != nil {
		t.Skipf("no Vulkan device: %v", err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"devices"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "selected (") {
		t.Errorf("output lacks the selected device:\n%s", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") || !strings.Contains(errb.String(), "devices") {
		t.Errorf("err %v, usage %q", err, errb.String())
	}
}
