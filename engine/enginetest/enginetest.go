// Package enginetest opens a Vulkan device for tests the way every nfvk
// test does: the default device (lavapipe on a machine without a GPU),
// with the Khronos validation layer when it is installed, skipping with a
// reason when there is no device, and failing the test on any validation
// message, including those reported while Close destroys everything.
package enginetest

import (
	"errors"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// Open opens the device and registers its Close and the validation check
// with t.Cleanup.
func Open(t testing.TB) *engine.Device {
	t.Helper()
	return OpenWith(t, engine.Options{})
}

// OpenWith is Open with options (validation is turned on, as in Open).
func OpenWith(t testing.TB, o engine.Options) *engine.Device {
	t.Helper()
	o.Validate = true
	d, err := engine.Open(o)
	if errors.Is(err, engine.ErrNoLoader) || errors.Is(err, engine.ErrNoDevice) {
		t.Skipf("no Vulkan device (make deps installs lavapipe): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := engine.ValidationError(d.ValidationMessages()); err != nil {
			t.Error(err)
		}
	})
	return d
}
