package engine

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

const validationLayer = "VK_LAYER_KHRONOS_validation"

// Options configure Open. The zero value opens the best device with the
// settings taken from the environment.
type Options struct {
	// Device selects a device by index or case-insensitive name substring;
	// empty means $NFVK_DEVICE, and then the best device (discrete >
	// integrated > virtual > CPU).
	Device string
	// Validate enables VK_LAYER_KHRONOS_validation and collects its
	// messages (ValidationMessages). $NFVK_VALIDATE=1 also enables it.
	Validate bool
	// GPUAssistedValidation adds the layer's GPU-assisted checks
	// (out-of-bounds descriptor and buffer accesses in shaders) to
	// Validate; $NFVK_VALIDATE=gpu sets both.
	GPUAssistedValidation bool
	// ShuffleDispatch, when positive, is the seed with which Record
	// writes every program's dispatches in a random order that respects
	// the declared dependencies (see Program.Recorded), so a dependency
	// missing from the declarations gives wrong results on lavapipe too.
	// Zero takes $NFVK_SHUFFLE_DISPATCH; negative is off.
	ShuffleDispatch int64
	// Limits lowers the device's limits (tests: a smaller GPU's code
	// paths); the zero value takes $NFVK_LIMITS (ParseLimits).
	Limits Limits
	// RequireValidation makes Open fail when validation was asked for but
	// the layer is not installed (otherwise it is silently off).
	RequireValidation bool
	// BlockSize is the size of the device memory blocks the arena
	// sub-allocates (default 64 MiB; larger buffers get their own block).
	BlockSize int64
	// PipelineCachePath, when set, loads the driver's pipeline cache from
	// this file at Open and saves it (atomically) at Close, so shaders are
	// not recompiled on every start. The driver ignores a cache made by
	// another device or driver version.
	PipelineCachePath string
	// PipelineCacheDir, when set and PipelineCachePath is not, keeps one
	// cache file per device and driver build in this directory
	// (pipelines-<pipelineCacheUUID>.bin), so machines with several
	// devices do not overwrite each other's cache.
	PipelineCacheDir string
	// DisableUnifiedMemory makes device buffers use staging copies even
	// when memory is host-visible: it runs the discrete-GPU upload and
	// read path on lavapipe (tests), at the cost of an extra copy.
	// $NFVK_FORCE_STAGING=1 sets it.
	DisableUnifiedMemory bool
	// MaxDispatchesPerSubmit splits long programs into several submits so
	// that no single submit runs for seconds (driver watchdogs, e.g. AMD's
	// ~2 s). Default 512.
	MaxDispatchesPerSubmit int
}

// Device is an open Vulkan device with its queue, memory arena and
// pipeline cache. Its methods are safe for concurrent use unless noted.
type Device struct {
	opts Options
	info DeviceInfo

	inst      C.VkInstance
	phys      C.VkPhysicalDevice
	fns       *C.nfvk_dev
	dev       C.VkDevice
	queue     C.VkQueue
	qfamily   uint32
	messenger C.VkDebugUtilsMessengerEXT
	sink      *messageSink
	sinkH     cgo.Handle

	mem     MemoryChoice // memory types of device buffers and staging
	unified bool         // device buffers are mapped

	queueMu sync.Mutex // guards queue, oneShot pool and fence
	wait    waitState  // watchdog and slow-wait reports (wait.go)

	deviceFromEnv bool // opts.Device came from $NFVK_DEVICE (for errors)
	oneShot       vk.CommandPool
	fence         vk.Fence

	arena        *arena
	staging      *block // host-visible staging buffer for uploads
	readback     *block // host-cached staging buffer for reads (may be staging)
	stagingArena *arena
	pipelines    *pipelineCache
	setLayout    vk.DescriptorSetLayout
	plLayout     vk.PipelineLayout
	maxBind      int

	mu       sync.Mutex
	programs map[*Program]struct{}
	rings    map[*UploadRing]struct{}
	closed   bool

	submits atomic.Uint64 // vkQueueSubmit calls (Submits)
}

func (d *Device) vkDevice() vk.Device { return vk.Device(unsafe.Pointer(d.dev)) }

// Info describes the opened device.
func (d *Device) Info() DeviceInfo { return d.info }

// Devices lists the Vulkan devices as nfvk sees them.
func Devices() ([]DeviceInfo, error) {
	if err := loadVulkan(); err != nil {
		return nil, err
	}
	inst, err := createInstance(false, false)
	if err != nil {
		return nil, err
	}
	defer C.nfvk_destroy_instance(inst)
	infos, _, err := enumerate(inst)
	return infos, err
}

// The property lists are asked of the loader through the shim, not the
// binding: the binding's array helpers free their C copies from GC
// finalizers that may run while the loader still writes to them.

// propertyNames calls a Vulkan two-call enumeration (count, then fill)
// and returns the set of names it lists; nil when it fails or is empty.
func propertyNames[T any](list func(n *C.uint32_t, out *T) C.VkResult, name func(*T) *C.char) map[string]bool {
	var n C.uint32_t
	if list(&n, nil) != C.VK_SUCCESS || n == 0 {
		return nil
	}
	props := make([]T, n)
	if r := list(&n, &props[0]); r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil
	}
	out := make(map[string]bool, n)
	for i := range props[:n] {
		out[C.GoString(name(&props[i]))] = true
	}
	return out
}

func instanceLayers() map[string]bool {
	return propertyNames(func(n *C.uint32_t, out *C.VkLayerProperties) C.VkResult { return C.nfvk_instance_layers(n, out) },
		func(p *C.VkLayerProperties) *C.char { return &p.layerName[0] })
}

func instanceExtensions() map[string]bool {
	return propertyNames(func(n *C.uint32_t, out *C.VkExtensionProperties) C.VkResult {
		return C.nfvk_instance_extensions(n, out)
	},
		extensionName)
}

// deviceExtensions lists the extensions a physical device offers.
func deviceExtensions(inst C.VkInstance, pd C.VkPhysicalDevice) map[string]bool {
	return propertyNames(func(n *C.uint32_t, out *C.VkExtensionProperties) C.VkResult {
		return C.nfvk_device_extensions(inst, pd, n, out)
	}, extensionName)
}

func extensionName(p *C.VkExtensionProperties) *C.char { return &p.extensionName[0] }

// queueFamilies lists a physical device's queue families.
func queueFamilies(inst C.VkInstance, pd C.VkPhysicalDevice) []QueueFamily {
	var n C.uint32_t
	C.nfvk_queue_families(inst, pd, &n, nil)
	if n == 0 {
		return nil
	}
	props := make([]C.VkQueueFamilyProperties, n)
	C.nfvk_queue_families(inst, pd, &n, &props[0])
	out := make([]QueueFamily, n)
	for i, p := range props[:n] {
		f := vk.QueueFlags(p.queueFlags)
		out[i] = QueueFamily{
			Index:              i,
			Queues:             uint32(p.queueCount),
			Graphics:           f&vk.QueueFlags(vk.QueueGraphicsBit) != 0,
			Compute:            f&vk.QueueFlags(vk.QueueComputeBit) != 0,
			Transfer:           f&vk.QueueFlags(vk.QueueTransferBit) != 0,
			TimestampValidBits: uint32(p.timestampValidBits),
		}
	}
	return out
}

// ValidationAvailable reports whether VK_LAYER_KHRONOS_validation is installed.
func ValidationAvailable() bool {
	if loadVulkan() != nil {
		return false
	}
	return instanceLayers()[validationLayer]
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func createInstance(validate, gpuAssisted bool) (C.VkInstance, error) {
	api := uint32(C.nfvk_instance_version())
	if api > vk.MakeVersion(1, 3, 0) {
		api = vk.MakeVersion(1, 3, 0)
	}
	layers, exts, flags := instanceSetup(instanceExtensions(), api, validate)
	cl, ce := cStrings(layers), cStrings(exts)
	defer freeCStrings(cl)
	defer freeCStrings(ce)
	al, ae := cStringArray(cl), cStringArray(ce)
	defer C.free(unsafe.Pointer(al))
	defer C.free(unsafe.Pointer(ae))
	var inst C.VkInstance
	r := C.nfvk_create_instance(C.uint32_t(api), al, C.uint32_t(len(cl)), ae, C.uint32_t(len(ce)), C.uint32_t(flags), b2u(validate && gpuAssisted), &inst)
	if err := check("vkCreateInstance", vk.Result(r)); err != nil {
		if vk.Result(r) == vk.ErrorIncompatibleDriver {
			return nil, noDriverError(err)
		}
		return nil, err
	}
	if err := vk.InitInstance(vk.Instance(unsafe.Pointer(inst))); err != nil {
		C.nfvk_destroy_instance(inst)
		return nil, fmt.Errorf("vkInitInstance: %w", err)
	}
	return inst, nil
}

func enumerate(inst C.VkInstance) ([]DeviceInfo, []C.VkPhysicalDevice, error) {
	vinst := vk.Instance(unsafe.Pointer(inst))
	var n uint32
	if err := check("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(vinst, &n, nil)); err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, noDriverError(errors.New("no physical device"))
	}
	pds := make([]vk.PhysicalDevice, n)
	if err := check("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(vinst, &n, pds)); err != nil {
		return nil, nil, err
	}
	infos := make([]DeviceInfo, n)
	cpds := make([]C.VkPhysicalDevice, n)
	for i, pd := range pds[:n] {
		cpds[i] = C.VkPhysicalDevice(unsafe.Pointer(pd))
		infos[i] = describe(inst, pd, i)
	}
	return infos, cpds, nil
}

func describe(inst C.VkInstance, pd vk.PhysicalDevice, index int) DeviceInfo {
	var p vk.PhysicalDeviceProperties
	vk.GetPhysicalDeviceProperties(pd, &p)
	p.Deref()
	p.Limits.Deref()
	l := p.Limits
	info := DeviceInfo{
		Index:                           index,
		Name:                            cString(p.DeviceName[:]),
		VendorID:                        p.VendorID,
		DeviceID:                        p.DeviceID,
		Vendor:                          vendorName(p.VendorID),
		DriverVersion:                   p.DriverVersion,
		PipelineCacheUUID:               p.PipelineCacheUUID,
		APIVersion:                      p.ApiVersion,
		SharedMemoryBytes:               l.MaxComputeSharedMemorySize,
		MaxWorkgroupSize:                l.MaxComputeWorkGroupSize,
		MaxWorkgroupInvocs:              l.MaxComputeWorkGroupInvocations,
		MaxWorkgroupCount:               l.MaxComputeWorkGroupCount,
		MaxStorageBufferRange:           l.MaxStorageBufferRange,
		MinStorageBufferOffsetAlignment: uint64(l.MinStorageBufferOffsetAlignment),
		MaxPushConstantsSize:            l.MaxPushConstantsSize,
		MaxStorageBuffersPerStage:       l.MaxPerStageDescriptorStorageBuffers,
		TimestampPeriodNs:               l.TimestampPeriod,
	}
	switch p.DeviceType {
	case vk.PhysicalDeviceTypeDiscreteGpu:
		info.Type = TypeDiscrete
	case vk.PhysicalDeviceTypeIntegratedGpu:
		info.Type = TypeIntegrated
	case vk.PhysicalDeviceTypeVirtualGpu:
		info.Type = TypeVirtual
	case vk.PhysicalDeviceTypeCpu:
		info.Type = TypeCPU
	}
	var mp vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(pd, &mp)
	mp.Deref()
	for i := uint32(0); i < mp.MemoryHeapCount; i++ {
		mp.MemoryHeaps[i].Deref()
		h := mp.MemoryHeaps[i]
		info.Heaps = append(info.Heaps, Heap{Size: uint64(h.Size), DeviceLocal: h.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0})
	}
	want := MemDeviceLocal | MemHostVisible | MemHostCoherent
	for i := uint32(0); i < mp.MemoryTypeCount; i++ {
		mp.MemoryTypes[i].Deref()
		t := MemoryType{Heap: int(mp.MemoryTypes[i].HeapIndex), Flags: MemoryFlags(mp.MemoryTypes[i].PropertyFlags)}
		info.MemoryTypes = append(info.MemoryTypes, t)
		if t.Flags&want == want {
			info.UnifiedMemory = true
		}
	}
	info.Memory, _ = chooseMemory(info.MemoryTypes, info.Heaps, info.Type, false)
	info.QueueFamilies = queueFamilies(inst, C.VkPhysicalDevice(unsafe.Pointer(pd)))
	info.QueueFamily, _ = chooseQueueFamily(info.QueueFamilies)
	if info.QueueFamily >= 0 {
		info.TimestampValidBits = info.QueueFamilies[info.QueueFamily].TimestampValidBits
	}
	var extra C.nfvk_extra_info
	C.nfvk_physical_extra(inst, C.VkPhysicalDevice(unsafe.Pointer(pd)), C.uint32_t(p.ApiVersion), &extra)
	info.SubgroupSize = uint32(extra.subgroup_size)
	info.SubgroupArithmetic = extra.subgroup_ops&C.VK_SUBGROUP_FEATURE_ARITHMETIC_BIT != 0
	info.SubgroupShuffle = extra.subgroup_ops&C.VK_SUBGROUP_FEATURE_SHUFFLE_BIT != 0
	info.Float16 = extra.shader_float16 != 0
	info.Int8 = extra.shader_int8 != 0
	info.Storage16 = extra.storage_buffer_16bit != 0
	info.BFloat16Ext = deviceExtensions(inst, C.VkPhysicalDevice(unsafe.Pointer(pd)))["VK_KHR_shader_bfloat16"]
	info.MaxMemoryAllocationSize = uint64(extra.max_memory_allocation_size)
	info.MaxBufferSize = uint64(extra.max_buffer_size)
	info.Driver = strings.TrimSpace(C.GoString(&extra.driver_name[0]) + " " + C.GoString(&extra.driver_info[0]))
	if info.Driver == "" {
		info.Driver = fmt.Sprintf("0x%x", p.DriverVersion)
	}
	return info
}

// Open opens a device: the one opts.Device or $NFVK_DEVICE names, else the
// best one. Close it when done.
func Open(opts Options) (*Device, error) {
	if err := loadVulkan(); err != nil {
		return nil, err
	}
	fromEnv := opts.Device == "" && os.Getenv("NFVK_DEVICE") != ""
	if err := opts.applyEnv(); err != nil {
		return nil, fmt.Errorf("open device: %w", err)
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = 64 << 20
	}
	if opts.MaxDispatchesPerSubmit <= 0 {
		opts.MaxDispatchesPerSubmit = 512
	}
	validate := opts.Validate
	if validate && !(instanceLayers()[validationLayer] && instanceExtensions()["VK_EXT_debug_utils"]) {
		if opts.RequireValidation {
			return nil, fmt.Errorf("open device: %s is not installed (apt install vulkan-validationlayers)", validationLayer)
		}
		validate = false
	}
	d := &Device{opts: opts, programs: map[*Program]struct{}{}, rings: map[*UploadRing]struct{}{}, deviceFromEnv: fromEnv}
	if err := d.init(validate); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) init(validate bool) error {
	inst, err := createInstance(validate, d.opts.GPUAssistedValidation)
	if err != nil {
		return fmt.Errorf("open device: %w", err)
	}
	d.inst = inst
	if validate {
		d.sink = &messageSink{}
		d.sinkH = cgo.NewHandle(d.sink)
		if err := check("vkCreateDebugUtilsMessengerEXT", vk.Result(C.nfvk_create_messenger(inst, C.uintptr_t(d.sinkH), &d.messenger))); err != nil {
			return fmt.Errorf("open device: %w", err)
		}
	}
	infos, pds, err := enumerate(inst)
	if err != nil {
		return fmt.Errorf("open device: %w", err)
	}
	idx, err := selectDevice(infos, d.opts.Device)
	if err != nil && d.deviceFromEnv {
		return fmt.Errorf("open device: $NFVK_DEVICE: %w", err)
	} else if err != nil {
		return fmt.Errorf("open device: %w", err)
	}
	d.info, d.phys = infos[idx], pds[idx]

	d.opts.Limits.apply(&d.info)
	if d.info.QueueFamily < 0 {
		return fmt.Errorf("open device %q: no queue family supports compute", d.info.Name)
	}
	d.qfamily = uint32(d.info.QueueFamily)

	ce := cStrings(deviceExtensionsToEnable(deviceExtensions(inst, d.phys)))
	defer freeCStrings(ce)
	ae := cStringArray(ce)
	defer C.free(unsafe.Pointer(ae))
	r := C.nfvk_create_device(inst, d.phys, C.uint32_t(d.qfamily), b2u(d.info.Float16), b2u(d.info.Storage16),
		ae, C.uint32_t(len(ce)), &d.dev)
	if err := check("vkCreateDevice", vk.Result(r)); err != nil {
		return fmt.Errorf("open device %q: %w", d.info.Name, err)
	}
	d.fns = C.nfvk_device_fns(inst, d.dev)
	if d.fns == nil {
		return fmt.Errorf("open device %q: vkGetDeviceProcAddr returned NULL for a core function", d.info.Name)
	}
	var q vk.Queue
	vk.GetDeviceQueue(d.vkDevice(), d.qfamily, 0, &q)
	d.queue = C.VkQueue(unsafe.Pointer(q))

	if err := d.pickMemoryTypes(); err != nil {
		return err
	}
	d.arena = newArena(d, d.opts.BlockSize)
	if err := d.createLayouts(); err != nil {
		return err
	}
	if d.opts.PipelineCachePath == "" && d.opts.PipelineCacheDir != "" {
		d.opts.PipelineCachePath = filepath.Join(d.opts.PipelineCacheDir, fmt.Sprintf("pipelines-%x.bin", d.info.PipelineCacheUUID))
	}
	if d.pipelines, err = newPipelineCache(d, d.opts.PipelineCachePath); err != nil {
		return err
	}

	var pool vk.CommandPool
	pci := vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit | vk.CommandPoolCreateTransientBit),
		QueueFamilyIndex: d.qfamily,
	}
	err = check("vkCreateCommandPool", vk.CreateCommandPool(d.vkDevice(), &pci, nil, &pool))
	pci.Free()
	if err != nil {
		return err
	}
	d.oneShot = pool
	d.fence, err = d.newFence()
	return err
}

func b2u(b bool) C.uint32_t {
	if b {
		return 1
	}
	return 0
}

func (d *Device) newFence() (vk.Fence, error) {
	var f vk.Fence
	fci := vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}
	err := check("vkCreateFence", vk.CreateFence(d.vkDevice(), &fci, nil, &f))
	fci.Free()
	return f, err
}

func (d *Device) pickMemoryTypes() error {
	c, err := chooseMemory(d.info.MemoryTypes, d.info.Heaps, d.info.Type, d.opts.DisableUnifiedMemory)
	if err != nil {
		return fmt.Errorf("open device %q: %w", d.info.Name, err)
	}
	d.mem, d.info.Memory = c, c
	d.unified = c.Unified
	return nil
}

// Unified reports whether device buffers are host-visible, so uploads and
// downloads are plain copies into mapped memory.
func (d *Device) Unified() bool { return d.unified }

// Close waits for the device to go idle and destroys every Vulkan object
// the Device created, including programs and buffers not yet closed.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	progs := make([]*Program, 0, len(d.programs))
	for p := range d.programs {
		progs = append(progs, p)
	}
	rings := make([]*UploadRing, 0, len(d.rings))
	for r := range d.rings {
		rings = append(rings, r)
	}
	d.mu.Unlock()
	var errs []error
	if d.fns != nil {
		errs = append(errs, check("vkDeviceWaitIdle", vk.Result(C.nfvk_device_wait_idle(d.fns))))
		for _, p := range progs {
			p.destroy()
		}
		for _, r := range rings {
			r.destroy()
		}
		dev := d.vkDevice()
		if d.pipelines != nil {
			errs = append(errs, d.pipelines.save(d.opts.PipelineCachePath))
			d.pipelines.destroy()
		}
		if d.plLayout != vk.NullPipelineLayout {
			vk.DestroyPipelineLayout(dev, d.plLayout, nil)
		}
		if d.setLayout != vk.NullDescriptorSetLayout {
			vk.DestroyDescriptorSetLayout(dev, d.setLayout, nil)
		}
		if d.arena != nil {
			d.arena.destroy()
		}
		if d.readback != nil && d.readback != d.staging {
			d.stagingArena.destroyBlock(d.readback)
		}
		if d.staging != nil {
			d.stagingArena.destroyBlock(d.staging)
		}
		if d.fence != vk.NullFence {
			vk.DestroyFence(dev, d.fence, nil)
		}
		if d.oneShot != vk.NullCommandPool {
			vk.DestroyCommandPool(dev, d.oneShot, nil)
		}
		C.nfvk_destroy_device(d.fns)
		d.fns = nil
	}
	if d.messenger != nil {
		C.nfvk_destroy_messenger(d.inst, d.messenger)
		d.messenger = nil
	}
	if d.inst != nil {
		C.nfvk_destroy_instance(d.inst)
		d.inst = nil
	}
	if d.sink != nil {
		d.sinkH.Delete()
	}
	return errors.Join(errs...)
}
