package engine

import vk "github.com/vulkan-go/vulkan"

// Extension names nfvk enables when they are offered.
const (
	extDebugUtils           = "VK_EXT_debug_utils"
	extPortabilityEnumerate = "VK_KHR_portability_enumeration"
	extPortabilitySubset    = "VK_KHR_portability_subset"
	extPhysicalDeviceProps2 = "VK_KHR_get_physical_device_properties2"
	// VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR, which the binding's
	// 1.1-era headers predate.
	createEnumeratePortability = 0x00000001
)

// instanceSetup picks the layers, extensions and create flags of the
// instance from what the loader offers (avail) and the API version asked
// for.
//
// Portability: since loader 1.3.216 a loader lists non-conformant
// implementations (MoltenVK on macOS) only to an instance created with
// VK_KHR_portability_enumeration and the enumerate-portability flag, so
// both are set whenever the loader offers the extension; elsewhere the
// extension lists nothing more. VK_KHR_portability_subset, which such a
// device then exposes, depends on VK_KHR_get_physical_device_properties2,
// core only from Vulkan 1.1, so a 1.0 instance enables that too.
func instanceSetup(avail map[string]bool, api uint32, validate bool) (layers, exts []string, flags uint32) {
	if validate {
		layers = append(layers, validationLayer)
		exts = append(exts, extDebugUtils)
	}
	if avail[extPortabilityEnumerate] {
		exts = append(exts, extPortabilityEnumerate)
		flags |= createEnumeratePortability
		if api < vk.MakeVersion(1, 1, 0) && avail[extPhysicalDeviceProps2] {
			exts = append(exts, extPhysicalDeviceProps2)
		}
	}
	return layers, exts, flags
}

// deviceExtensionsToEnable lists the device extensions nfvk enables from
// those the device offers: VK_KHR_portability_subset, which the spec
// requires an application to enable whenever the device exposes it
// (MoltenVK does); nfvk uses none of the features it restricts.
func deviceExtensionsToEnable(avail map[string]bool) []string {
	var exts []string
	if avail[extPortabilitySubset] {
		exts = append(exts, extPortabilitySubset)
	}
	return exts
}
