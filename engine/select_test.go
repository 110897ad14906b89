package engine

import (
	"errors"
	"strings"
	"testing"
)

// TestDeviceChoiceNamedInErrors: a device chosen by Options.Device (the
// CLI's --device) is reported as such, one from $NFVK_DEVICE as that.
func TestDeviceChoiceNamedInErrors(t *testing.T) {
	if _, err := Devices(); err != nil {
		t.Skipf("no Vulkan device: %v", err)
	}
	t.Setenv("NFVK_DEVICE", "")
	_, err := Open(Options{Device: "no-such-gpu"})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), `device "no-such-gpu" matches none`) || strings.Contains(err.Error(), "NFVK_DEVICE") {
		t.Errorf("Options.Device: %v", err)
	}
	t.Setenv("NFVK_DEVICE", "no-such-gpu")
	_, err = Open(Options{})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), `$NFVK_DEVICE: no Vulkan device: device "no-such-gpu"`) {
		t.Errorf("$NFVK_DEVICE: %v", err)
	}
}
