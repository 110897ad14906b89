package engine

/*
#include "shim.h"

// nfvk_memory_budget reads VK_EXT_memory_budget's per-heap budget and
// usage (the caller checked the extension is supported); 0 when the
// query function is missing.
static int nfvk_memory_budget(VkInstance inst, VkPhysicalDevice pd, VkDeviceSize *budget, VkDeviceSize *usage) {
	PFN_vkGetInstanceProcAddr gipa = (PFN_vkGetInstanceProcAddr)nfvk_get_instance_proc_addr();
	PFN_vkGetPhysicalDeviceMemoryProperties2 f =
	    (PFN_vkGetPhysicalDeviceMemoryProperties2)gipa(inst, "vkGetPhysicalDeviceMemoryProperties2");
	if (!f) return 0;
	VkPhysicalDeviceMemoryBudgetPropertiesEXT b = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
	VkPhysicalDeviceMemoryProperties2 p = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
	p.pNext = &b;
	f(pd, &p);
	for (uint32_t i = 0; i < VK_MAX_MEMORY_HEAPS; i++) {
		budget[i] = b.heapBudget[i];
		usage[i] = b.heapUsage[i];
	}
	return 1;
}
*/
import "C"

import (
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// MemoryBudget is the device memory open to this process in the heap its
// buffers come from.
type MemoryBudget struct {
	// HeapSize is the heap's size.
	HeapSize uint64
	// Budget is how much this process may allocate from the heap in all
	// before allocations fail or slow down (VK_EXT_memory_budget: it
	// accounts for other processes); HeapSize without the extension.
	Budget uint64
	// Usage is what this process has allocated from the heap (0 without
	// the extension).
	Usage uint64
	// FromExtension tells whether Budget and Usage came from
	// VK_EXT_memory_budget.
	FromExtension bool
	// MaxBufferRange is the largest buffer a kernel can bind
	// (maxStorageBufferRange).
	MaxBufferRange uint64
}

// Available is the memory this process can still allocate.
func (b MemoryBudget) Available() uint64 {
	if b.Usage >= b.Budget {
		return 0
	}
	return b.Budget - b.Usage
}

// MemoryBudget reports the budget of the heap device buffers come from,
// asked of the driver now (it changes as processes allocate).
func (d *Device) MemoryBudget() MemoryBudget {
	vpd := vk.PhysicalDevice(unsafe.Pointer(d.phys))
	var mp vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(vpd, &mp)
	mp.Deref()
	mt := mp.MemoryTypes[d.mem.Device[0]] // the first choice for tensors
	mt.Deref()
	heap := mp.MemoryHeaps[mt.HeapIndex]
	heap.Deref()
	out := MemoryBudget{HeapSize: uint64(heap.Size), Budget: uint64(heap.Size), MaxBufferRange: uint64(d.info.MaxStorageBufferRange)}
	if !deviceExtensions(d.inst, d.phys)["VK_EXT_memory_budget"] {
		return out
	}
	var budget, usage [C.VK_MAX_MEMORY_HEAPS]C.VkDeviceSize
	if C.nfvk_memory_budget(d.inst, d.phys, &budget[0], &usage[0]) == 0 {
		return out
	}
	if b := uint64(budget[mt.HeapIndex]); b > 0 {
		out.Budget, out.Usage, out.FromExtension = b, uint64(usage[mt.HeapIndex]), true
	}
	return out
}
