package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// noDriverError is the error for a loader that found no driver (vkCreateInstance's VK_ERROR_INCOMPATIBLE_DRIVER, or no
// physical device): what to install, and where the loader looked, since a
// driver installed elsewhere or an override variable pointing nowhere is
// the usual cause.
func noDriverError(cause error) error {
	return fmt.Errorf("%w: the Vulkan loader found no driver (%v); it looked at %s; %s", ErrNoDevice, cause, icdSearch(), driverHint)
}

// icdSearch describes where the Vulkan loader looks for driver manifests
// (ICD JSON files) and what it finds there: the override variables when
// set, else the standard directories.
func icdSearch() string {
	for _, v := range []string{"VK_DRIVER_FILES", "VK_ICD_FILENAMES"} {
		if val := os.Getenv(v); val != "" {
			var files []string
			for _, f := range filepath.SplitList(val) {
				if _, err := os.Stat(f); err != nil {
					f += " (missing)"
				}
				files = append(files, f)
			}
			return fmt.Sprintf("$%s only: %s", v, strings.Join(files, ", "))
		}
	}
	if runtime.GOOS == "windows" {
		return "the registry's driver list"
	}
	var dirs []string
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "vulkan/icd.d"))
	} else if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".config/vulkan/icd.d"))
	}
	dirs = append(dirs, "/etc/xdg/vulkan/icd.d", "/etc/vulkan/icd.d")
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".local/share/vulkan/icd.d"))
	}
	data := os.Getenv("XDG_DATA_DIRS")
	if data == "" {
		data = "/usr/local/share:/usr/share"
	}
	for _, d := range filepath.SplitList(data) {
		dirs = append(dirs, filepath.Join(d, "vulkan/icd.d"))
	}
	var found []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.json"))
		found = append(found, m...)
	}
	what := "no driver manifest there"
	if len(found) > 0 {
		what = "manifests " + strings.Join(found, ", ") + " (their drivers failed to load)"
	}
	return fmt.Sprintf("%s: %s", strings.Join(dirs, ", "), what)
}
