package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	vk "github.com/vulkan-go/vulkan"
)

func TestInstanceSetupPortability(t *testing.T) {
	v10, v13 := vk.MakeVersion(1, 0, 0), vk.MakeVersion(1, 3, 0)
	for _, c := range []struct {
		name      string
		avail     []string
		api       uint32
		validate  bool
		wantExts  []string
		wantFlags uint32
	}{
		{"plain loader", []string{extDebugUtils}, v13, false, nil, 0},
		{"validation", []string{extDebugUtils}, v13, true, []string{extDebugUtils}, 0},
		{"macOS loader", []string{extPortabilityEnumerate, extPhysicalDeviceProps2}, v13, false,
			[]string{extPortabilityEnumerate}, createEnumeratePortability},
		{"macOS loader, 1.0 instance", []string{extPortabilityEnumerate, extPhysicalDeviceProps2}, v10, false,
			[]string{extPortabilityEnumerate, extPhysicalDeviceProps2}, createEnumeratePortability},
		{"1.0 instance without portability", []string{extPhysicalDeviceProps2}, v10, false, nil, 0},
	} {
		avail := map[string]bool{}
		for _, e := range c.avail {
			avail[e] = true
		}
		layers, exts, flags := instanceSetup(avail, c.api, c.validate)
		if !slices.Equal(exts, c.wantExts) || flags != c.wantFlags {
			t.Errorf("%s: extensions %v flags %#x, want %v %#x", c.name, exts, flags, c.wantExts, c.wantFlags)
		}
		if c.validate != slices.Contains(layers, validationLayer) {
			t.Errorf("%s: layers %v with validate=%v", c.name, layers, c.validate)
		}
	}
}

func TestDeviceExtensionsPortabilitySubset(t *testing.T) {
	if got := deviceExtensionsToEnable(map[string]bool{"VK_KHR_16bit_storage": true}); len(got) != 0 {
		t.Errorf("conformant device: enables %v, want none", got)
	}
	got := deviceExtensionsToEnable(map[string]bool{extPortabilitySubset: true, "VK_KHR_16bit_storage": true})
	if !slices.Equal(got, []string{extPortabilitySubset}) {
		t.Errorf("portability device: enables %v, want [%s]", got, extPortabilitySubset)
	}
}

// A loader that cannot be opened reports ErrNoLoader and every library
// tried, with the reason for each; the process-wide loader is untouched.
func TestOpenLoaderNamesEveryLibrary(t *testing.T) {
	names := []string{"libnfvk-no-such-loader.so.1", "nfvk-no-such-loader.dll"}
	err := openLoader(names)
	if !errors.Is(err, ErrNoLoader) {
		t.Fatalf("openLoader(%v) = %v, want ErrNoLoader", names, err)
	}
	t.Log(err)
	for _, n := range names {
		if !strings.Contains(err.Error(), n+": ") {
			t.Errorf("error does not name %s: %v", n, err)
		}
	}
	if len(loaderLibraries) == 0 || !strings.Contains(err.Error(), loaderHint) {
		t.Errorf("no loader list or install hint for this OS: %v", err)
	}
}
