package engine

import (
	"errors"
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// Sentinel errors for the failures a caller handles differently from the
// rest; test with errors.Is.
var (
	// ErrDeviceLost: the device was lost (driver reset, GPU hang, timeout).
	// Every object of the Device is unusable; close it and open a new one.
	ErrDeviceLost = errors.New("vulkan device lost")
	// ErrOutOfDeviceMemory: a device allocation failed. Smaller batches or
	// a smaller model may fit.
	ErrOutOfDeviceMemory = errors.New("out of device memory")
	// ErrOutOfHostMemory: the driver could not allocate host memory.
	ErrOutOfHostMemory = errors.New("out of host memory")
	// ErrNoDevice: no Vulkan device (or none matching NFVK_DEVICE) exists.
	ErrNoDevice = errors.New("no Vulkan device")
	// ErrNoLoader: the Vulkan loader library could not be loaded.
	ErrNoLoader = errors.New("vulkan loader not found")
	// ErrTimeout: a wait for the device ran past its deadline.
	ErrTimeout = errors.New("vulkan wait timed out")
)

// Error is a failed Vulkan call: the call's name and its VkResult.
type Error struct {
	Call   string
	Result vk.Result
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (VkResult %d)", e.Call, resultName(e.Result), int32(e.Result))
}

// Is makes errors.Is(err, ErrDeviceLost) and friends work on *Error.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrDeviceLost:
		return e.Result == vk.ErrorDeviceLost
	case ErrOutOfDeviceMemory:
		return e.Result == vk.ErrorOutOfDeviceMemory
	case ErrOutOfHostMemory:
		return e.Result == vk.ErrorOutOfHostMemory
	case ErrTimeout:
		return e.Result == vk.Timeout
	}
	return false
}

// check turns a VkResult into nil or an *Error naming call.
func check(call string, r vk.Result) error {
	if r == vk.Success {
		return nil
	}
	return &Error{Call: call, Result: r}
}

func resultName(r vk.Result) string {
	switch r {
	case vk.Success:
		return "VK_SUCCESS"
	case vk.NotReady:
		return "VK_NOT_READY"
	case vk.Timeout:
		return "VK_TIMEOUT"
	case vk.Incomplete:
		return "VK_INCOMPLETE"
	case vk.ErrorOutOfHostMemory:
		return "VK_ERROR_OUT_OF_HOST_MEMORY"
	case vk.ErrorOutOfDeviceMemory:
		return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
	case vk.ErrorInitializationFailed:
		return "VK_ERROR_INITIALIZATION_FAILED"
	case vk.ErrorDeviceLost:
		return "VK_ERROR_DEVICE_LOST"
	case vk.ErrorMemoryMapFailed:
		return "VK_ERROR_MEMORY_MAP_FAILED"
	case vk.ErrorLayerNotPresent:
		return "VK_ERROR_LAYER_NOT_PRESENT"
	case vk.ErrorExtensionNotPresent:
		return "VK_ERROR_EXTENSION_NOT_PRESENT"
	case vk.ErrorFeatureNotPresent:
		return "VK_ERROR_FEATURE_NOT_PRESENT"
	case vk.ErrorIncompatibleDriver:
		return "VK_ERROR_INCOMPATIBLE_DRIVER"
	case vk.ErrorTooManyObjects:
		return "VK_ERROR_TOO_MANY_OBJECTS"
	case vk.ErrorFormatNotSupported:
		return "VK_ERROR_FORMAT_NOT_SUPPORTED"
	case vk.ErrorFragmentedPool:
		return "VK_ERROR_FRAGMENTED_POOL"
	case vk.ErrorOutOfPoolMemory:
		return "VK_ERROR_OUT_OF_POOL_MEMORY"
	}
	return "VkResult"
}
