package engine

import (
	"errors"
	"testing"

	"github.com/nfvk/nfvk/shaders"
)

// openTest opens the default device with the validation layer when it is
// installed, and fails the test on any validation message (including
// those emitted while Close destroys everything).
func openTest(t testing.TB) *Device {
	t.Helper()
	return openTestWith(t, Options{Validate: true, MaxDispatchesPerSubmit: 64})
}

// openTestWith is openTest with opts.
func openTestWith(t testing.TB, opts Options) *Device {
	t.Helper()
	d, err := Open(opts)
	if errors.Is(err, ErrNoLoader) || errors.Is(err, ErrNoDevice) {
		t.Skipf("no Vulkan device here (make deps installs lavapipe): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !d.ValidationEnabled() {
		t.Logf("validation layer not installed: running without it")
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := ValidationError(d.ValidationMessages()); err != nil {
			t.Error(err)
		}
	})
	return d
}

func shader(t testing.TB, name string) *Shader {
	t.Helper()
	code, err := shaders.SPIRV(name)
	if err != nil {
		t.Fatal(err)
	}
	return &Shader{Name: name, SPIRV: code}
}

func TestDevicesListed(t *testing.T) {
	infos, err := Devices()
	if errors.Is(err, ErrNoLoader) || errors.Is(err, ErrNoDevice) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		t.Log(in)
		if in.Name == "" || in.MaxStorageBufferRange == 0 || in.MinStorageBufferOffsetAlignment == 0 || in.SubgroupSize == 0 {
			t.Errorf("device %d: incomplete info %+v", in.Index, in)
		}
	}
}

func TestSelectDevice(t *testing.T) {
	infos := []DeviceInfo{
		{Name: "llvmpipe (LLVM 15)", Type: TypeCPU},
		{Name: "Intel UHD 770", Type: TypeIntegrated},
		{Name: "AMD Radeon RX 7900", Type: TypeDiscrete},
	}
	for _, c := range []struct {
		spec string
		want int
		err  bool
	}{
		{"", 2, false},
		{"0", 0, false},
		{"1", 1, false},
		{"llvm", 0, false},
		{"RADEON", 2, false},
		{"3", -1, true},
		{"-1", -1, true},
		{"nvidia", -1, true},
	} {
		got, err := selectDevice(infos, c.spec)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("selectDevice(%q) = %d, %v; want %d, error %v", c.spec, got, err, c.want, c.err)
		}
		if c.err && !errors.Is(err, ErrNoDevice) {
			t.Errorf("selectDevice(%q) error %v is not ErrNoDevice", c.spec, err)
		}
	}
	if _, err := selectDevice(nil, ""); !errors.Is(err, ErrNoDevice) {
		t.Errorf("no devices: %v", err)
	}
}

func TestErrorsAreDistinguishable(t *testing.T) {
	lost := check("vkQueueSubmit", -4)   // VK_ERROR_DEVICE_LOST
	oom := check("vkAllocateMemory", -2) // VK_ERROR_OUT_OF_DEVICE_MEMORY
	if !errors.Is(lost, ErrDeviceLost) || errors.Is(lost, ErrOutOfDeviceMemory) {
		t.Errorf("device lost: %v", lost)
	}
	if !errors.Is(oom, ErrOutOfDeviceMemory) || errors.Is(oom, ErrDeviceLost) {
		t.Errorf("oom: %v", oom)
	}
	if got := lost.Error(); got != "vkQueueSubmit: VK_ERROR_DEVICE_LOST (VkResult -4)" {
		t.Errorf("message %q", got)
	}
	if check("x", 0) != nil {
		t.Error("VK_SUCCESS is an error")
	}
}
