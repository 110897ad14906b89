package engine

// macOS has no system Vulkan: the Khronos loader (Vulkan SDK, Homebrew's
// vulkan-loader) finds MoltenVK through its ICD file and also loads layers
// such as validation, so it comes first; MoltenVK alone is a complete
// Vulkan implementation and exports vkGetInstanceProcAddr itself, so it
// is the fallback. dlopen searches DYLD_LIBRARY_PATH, then /usr/local/lib
// (the SDK's install) and /usr/lib, but not Homebrew's prefix on Apple
// silicon, hence the absolute paths.
var loaderLibraries = []string{
	"libvulkan.1.dylib",
	"/opt/homebrew/lib/libvulkan.1.dylib",
	"libMoltenVK.dylib",
	"/opt/homebrew/lib/libMoltenVK.dylib",
}

const loaderHint = "install MoltenVK and the Vulkan loader, e.g. the LunarG Vulkan SDK or `brew install molten-vk vulkan-loader`"

// driverHint says how to get a Vulkan driver when the loader found none.
const driverHint = "install MoltenVK (the LunarG Vulkan SDK, or `brew install molten-vk`), whose ICD file the loader must find"
