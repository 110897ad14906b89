package engine

import (
	"fmt"
	"strings"
)

// MemoryFlags are a memory type's VkMemoryPropertyFlags (same bits).
type MemoryFlags uint32

const (
	MemDeviceLocal  MemoryFlags = 0x01
	MemHostVisible  MemoryFlags = 0x02
	MemHostCoherent MemoryFlags = 0x04
	MemHostCached   MemoryFlags = 0x08
	// Types nfvk never uses: lazily allocated (tile memory), protected,
	// and AMD's device-coherent/uncached (slow, for debugging).
	memAvoid MemoryFlags = 0x10 | 0x20 | 0x40 | 0x80
)

func (f MemoryFlags) String() string {
	var s []string
	for _, n := range []struct {
		f    MemoryFlags
		name string
	}{{MemDeviceLocal, "device-local"}, {MemHostVisible, "host-visible"}, {MemHostCoherent, "host-coherent"}, {MemHostCached, "host-cached"}} {
		if f&n.f != 0 {
			s = append(s, n.name)
		}
	}
	if f&memAvoid != 0 {
		s = append(s, fmt.Sprintf("0x%x", uint32(f&memAvoid)))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// MemoryType is one memory type of a device: its heap and properties.
type MemoryType struct {
	Heap  int
	Flags MemoryFlags
}

// MemoryChoice is which memory types a device's buffers use, each list
// in the order allocation tries them (the next after a failure).
type MemoryChoice struct {
	// Device holds tensors. Its first type is host-visible when Unified.
	Device []int
	// Upload is the staging memory of host-to-device copies.
	Upload []int
	// Readback is the staging memory of device-to-host copies:
	// host-cached where the device offers it, since uncached reads over
	// PCIe (and from ReBAR memory) are slow.
	Readback []int
	// Unified: device buffers are mapped and written in place.
	Unified bool
}

// largeHostVisibleHeap is the smallest device-local heap a discrete GPU's
// host-visible device-local type must sit in to hold tensors: ReBAR/SAM
// exposes all of VRAM, older systems only a 256 MiB window, too small
// (and shared with the driver) to plan a model in.
const largeHostVisibleHeap = 4 << 30

// chooseMemory picks the memory types from property sets with fallbacks:
// device buffers in device-local and host-visible memory when that heap
// is the device's main memory (integrated GPUs, lavapipe, ReBAR), else
// device-local, else host-visible as a last resort; staging in
// host-visible memory outside VRAM. forceStaging drops the host-visible
// device-local choice (the discrete-GPU path everywhere).
func chooseMemory(types []MemoryType, heaps []Heap, dt DeviceType, forceStaging bool) (MemoryChoice, error) {
	const hv = MemHostVisible | MemHostCoherent
	large := func(t MemoryType) bool {
		return dt != TypeDiscrete || (t.Heap < len(heaps) && heaps[t.Heap].Size >= largeHostVisibleHeap)
	}
	type want struct {
		has, not MemoryFlags
		ok       func(MemoryType) bool
	}
	pick := func(sets ...want) []int {
		var out []int
		seen := map[int]bool{}
		for _, w := range sets {
			for i, t := range types {
				if t.Flags&memAvoid != 0 || t.Flags&w.has != w.has || t.Flags&w.not != 0 || seen[i] || (w.ok != nil && !w.ok(t)) {
					continue
				}
				seen[i] = true
				out = append(out, i)
			}
		}
		return out
	}
	var c MemoryChoice
	if !forceStaging {
		c.Device = pick(want{has: MemDeviceLocal | hv, ok: large})
		c.Unified = len(c.Device) > 0
	}
	c.Device = append(c.Device, pick(want{has: MemDeviceLocal}, want{has: hv})...)
	c.Device = dedupe(c.Device)
	c.Upload = pick(want{has: hv, not: MemDeviceLocal | MemHostCached}, want{has: hv, not: MemDeviceLocal}, want{has: hv})
	c.Readback = pick(want{has: hv | MemHostCached, not: MemDeviceLocal}, want{has: MemHostVisible | MemHostCached, not: MemDeviceLocal},
		want{has: hv | MemHostCached}, want{has: MemHostVisible | MemHostCached}, want{has: hv})
	if len(c.Device) == 0 {
		return c, fmt.Errorf("no device-local or host-visible memory type among %v", types)
	}
	if len(c.Upload) == 0 {
		return c, fmt.Errorf("no host-visible coherent memory type for staging among %v", types)
	}
	return c, nil
}

func dedupe(xs []int) []int {
	seen := map[int]bool{}
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
