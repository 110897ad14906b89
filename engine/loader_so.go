//go:build !windows && !darwin

package engine

// Linux and the BSDs: the loader's versioned soname first (what the
// runtime package installs), the unversioned name only where a -dev
// package or a hand install left just that.
var loaderLibraries = []string{"libvulkan.so.1", "libvulkan.so"}

const loaderHint = "install the Vulkan loader and a driver: on Debian/Ubuntu `apt install libvulkan1 mesa-vulkan-drivers` (lavapipe runs on any CPU; add your GPU vendor's Vulkan driver for the GPU)"

// driverHint says how to get a Vulkan driver when the loader found none.
const driverHint = "install a driver: on Debian/Ubuntu `apt install mesa-vulkan-drivers` (lavapipe, on any CPU), or your GPU vendor's Vulkan driver"
