package engine

// Windows: the loader ships with GPU drivers and the Vulkan runtime in
// System32.
var loaderLibraries = []string{"vulkan-1.dll"}

const loaderHint = "install a GPU driver with Vulkan support, or the Vulkan Runtime from the LunarG SDK"

// driverHint says how to get a Vulkan driver when the loader found none.
const driverHint = "install your GPU vendor's driver with Vulkan support (the loader reads the drivers from the registry, HKLM\\SOFTWARE\\Khronos\\Vulkan\\Drivers)"
