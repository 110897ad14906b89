package engine

import (
	"fmt"
	"strings"
)

// DeviceType is the kind of physical device, in the order Open prefers.
type DeviceType int

const (
	TypeOther DeviceType = iota
	TypeCPU
	TypeVirtual
	TypeIntegrated
	TypeDiscrete
)

func (t DeviceType) String() string {
	switch t {
	case TypeDiscrete:
		return "discrete"
	case TypeIntegrated:
		return "integrated"
	case TypeVirtual:
		return "virtual"
	case TypeCPU:
		return "cpu"
	}
	return "other"
}

// Heap is one memory heap of a device.
type Heap struct {
	Size        uint64
	DeviceLocal bool
}

// DeviceInfo describes a physical device as nfvk sees it: what kernels
// need to pick tile sizes and what a user needs to pick a device.
type DeviceInfo struct {
	Index         int
	Name          string
	Type          DeviceType
	VendorID      uint32
	DeviceID      uint32
	Vendor        string
	Driver        string // driver name and info (VK_KHR_driver_properties), or the raw version
	DriverVersion uint32
	// PipelineCacheUUID identifies the device and driver build whose
	// pipeline caches are interchangeable.
	PipelineCacheUUID [16]byte
	APIVersion        uint32

	Heaps []Heap
	// UnifiedMemory is true when one memory type is both device-local and
	// host-visible (lavapipe, integrated GPUs, ReBAR): no staging copies.
	UnifiedMemory bool

	// MemoryTypes and QueueFamilies are the device's, as it lists them;
	// Memory and QueueFamily are the ones Open uses by default.
	MemoryTypes   []MemoryType
	Memory        MemoryChoice
	QueueFamilies []QueueFamily
	QueueFamily   int

	// MaxMemoryAllocationSize (Vulkan 1.1) bounds one VkDeviceMemory and
	// MaxBufferSize (1.3) one VkBuffer; 0 when the device does not say.
	MaxMemoryAllocationSize uint64
	MaxBufferSize           uint64

	SubgroupSize                    uint32
	SubgroupArithmetic              bool
	SubgroupShuffle                 bool
	SharedMemoryBytes               uint32
	MaxWorkgroupSize                [3]uint32
	MaxWorkgroupInvocs              uint32
	MaxWorkgroupCount               [3]uint32
	MaxStorageBufferRange           uint32
	MinStorageBufferOffsetAlignment uint64
	MaxPushConstantsSize            uint32
	MaxStorageBuffersPerStage       uint32
	TimestampPeriodNs               float32
	TimestampValidBits              uint32

	Float16   bool // shaderFloat16 arithmetic
	Int8      bool
	Storage16 bool // 16-bit storage buffer access
	// BFloat16Ext is whether the device offers VK_KHR_shader_bfloat16
	// (the extension, not yet its shaderBFloat16Type feature).
	BFloat16Ext bool
}

// APIVersionString formats the Vulkan API version, e.g. "1.3.230".
func (d DeviceInfo) APIVersionString() string {
	return fmt.Sprintf("%d.%d.%d", d.APIVersion>>22&0x7f, d.APIVersion>>12&0x3ff, d.APIVersion&0xfff)
}

// DeviceMemoryBytes is the total size of the device-local heaps.
func (d DeviceInfo) DeviceMemoryBytes() uint64 {
	var n uint64
	for _, h := range d.Heaps {
		if h.DeviceLocal {
			n += h.Size
		}
	}
	return n
}

// IsCPU reports whether the device is a CPU implementation (lavapipe,
// SwiftShader), which kernels tune differently.
func (d DeviceInfo) IsCPU() bool { return d.Type == TypeCPU }

func (d DeviceInfo) String() string {
	return fmt.Sprintf("#%d %s (%s, %s, driver %s, Vulkan %s, %.1f GiB, subgroup %d, shared %d KiB, fp16 %v)",
		d.Index, d.Name, d.Type, d.Vendor, d.Driver, d.APIVersionString(),
		float64(d.DeviceMemoryBytes())/(1<<30), d.SubgroupSize, d.SharedMemoryBytes/1024, d.Float16)
}

func vendorName(id uint32) string {
	switch id {
	case 0x1002:
		return "AMD"
	case 0x10DE:
		return "NVIDIA"
	case 0x8086:
		return "Intel"
	case 0x13B5:
		return "ARM"
	case 0x5143:
		return "Qualcomm"
	case 0x1010:
		return "ImgTec"
	case 0x106B:
		return "Apple"
	case 0x10005:
		return "Mesa"
	}
	return fmt.Sprintf("0x%04x", id)
}

// selectDevice picks by spec (an index or a case-insensitive name
// substring) when spec is non-empty, else the best type: discrete >
// integrated > virtual > CPU, first listed on ties.
func selectDevice(infos []DeviceInfo, spec string) (int, error) {
	if len(infos) == 0 {
		return -1, ErrNoDevice
	}
	spec = strings.TrimSpace(spec)
	if spec != "" {
		var idx int
		if _, err := fmt.Sscanf(spec, "%d", &idx); err == nil && fmt.Sprint(idx) == spec {
			if idx < 0 || idx >= len(infos) {
				return -1, fmt.Errorf("%w: device %s: index out of range, %d device(s)", ErrNoDevice, spec, len(infos))
			}
			return idx, nil
		}
		for i, d := range infos {
			if strings.Contains(strings.ToLower(d.Name), strings.ToLower(spec)) {
				return i, nil
			}
		}
		names := make([]string, len(infos))
		for i, d := range infos {
			names[i] = fmt.Sprintf("%d: %s", i, d.Name)
		}
		return -1, fmt.Errorf("%w: device %q matches none of [%s]", ErrNoDevice, spec, strings.Join(names, "; "))
	}
	best := 0
	for i, d := range infos {
		if d.Type > infos[best].Type {
			best = i
		}
	}
	return best, nil
}
