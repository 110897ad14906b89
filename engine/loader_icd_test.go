package engine

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDriverError: with the loader pointed at a driver manifest that
// does not exist, Open fails with ErrNoDevice saying where the loader
// looked and what to install.
func TestNoDriverError(t *testing.T) {
	if err := loadVulkan(); err != nil {
		t.Skipf("no Vulkan loader: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "no_icd.json")
	t.Setenv("VK_DRIVER_FILES", "")
	t.Setenv("VK_ICD_FILENAMES", missing)
	_, err := Open(Options{})
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("err %v, want ErrNoDevice", err)
	}
	for _, want := range []string{"found no driver", "$VK_ICD_FILENAMES only: " + missing + " (missing)", driverHint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestICDSearchDefault names the standard directories and the manifests
// found there.
func TestICDSearchDefault(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("VK_DRIVER_FILES", "")
	t.Setenv("VK_ICD_FILENAMES", "")
	t.Setenv("XDG_DATA_DIRS", dir)
	got := icdSearch()
	if !strings.Contains(got, filepath.Join(dir, "vulkan/icd.d")) || !strings.Contains(got, "/etc/vulkan/icd.d") {
		t.Errorf("icdSearch() = %q, want the data and /etc directories", got)
	}
}
