//go:build !windows && !darwin

package engine

// Linux and the BSDs: the loader's versioned soname first (what the
// runtime package installs), the unversioned name only where a -dev
// package or a hand install left just that.
var loaderLibraries = []string{"libvulkan.so.1", "libvulkan.so"}

const loaderHint = "install the Vulkan loader and a driver, e.g. libvulkan1 and mesa-vulkan-drivers on Debian/Ubuntu"
