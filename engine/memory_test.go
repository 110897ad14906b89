package engine

import (
	"slices"
	"testing"
)

// TestChooseMemory checks the memory types chosen on the layouts of
// lavapipe, a discrete GPU without and with ReBAR, and a device whose
// only device-local type is not host-visible.
func TestChooseMemory(t *testing.T) {
	const (
		dl = MemDeviceLocal
		hv = MemHostVisible | MemHostCoherent
		hc = MemHostCached
	)
	gib := uint64(1 << 30)
	lavapipe := []MemoryType{{0, dl | hv | hc}}
	// NVIDIA-like: VRAM, system memory, and the 256 MiB BAR window.
	nvHeaps := []Heap{{8 * gib, true}, {16 * gib, false}, {256 << 20, true}}
	nv := []MemoryType{{1, 0}, {0, dl}, {1, hv}, {1, hv | hc}, {2, dl | hv}}
	// AMD with ReBAR: all of VRAM is host-visible.
	rebarHeaps := []Heap{{16 * gib, true}, {32 * gib, false}}
	rebar := []MemoryType{{0, dl}, {1, hv}, {0, dl | hv}, {1, hv | hc}, {0, dl | 0x40}}
	cases := []struct {
		name     string
		types    []MemoryType
		heaps    []Heap
		dt       DeviceType
		force    bool
		want     MemoryChoice
		readback string
	}{
		{"lavapipe", lavapipe, []Heap{{2 * gib, true}}, TypeCPU, false,
			MemoryChoice{Device: []int{0}, Upload: []int{0}, Readback: []int{0}, Unified: true}, "direct"},
		{"lavapipe forced staging", lavapipe, []Heap{{2 * gib, true}}, TypeCPU, true,
			MemoryChoice{Device: []int{0}, Upload: []int{0}, Readback: []int{0}}, "direct"},
		{"discrete, BAR window", nv, nvHeaps, TypeDiscrete, false,
			MemoryChoice{Device: []int{1, 4, 2, 3}, Upload: []int{2, 3, 4}, Readback: []int{3, 2, 4}}, "staged"},
		{"discrete, ReBAR", rebar, rebarHeaps, TypeDiscrete, false,
			MemoryChoice{Device: []int{2, 0, 1, 3}, Upload: []int{1, 3, 2}, Readback: []int{3, 1, 2}, Unified: true}, "staged"},
		{"discrete, ReBAR, forced staging", rebar, rebarHeaps, TypeDiscrete, true,
			MemoryChoice{Device: []int{0, 2, 1, 3}, Upload: []int{1, 3, 2}, Readback: []int{3, 1, 2}}, "staged"},
	}
	for _, c := range cases {
		got, err := chooseMemory(c.types, c.heaps, c.dt, c.force)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got.Device, c.want.Device) || !slices.Equal(got.Upload, c.want.Upload) ||
			!slices.Equal(got.Readback, c.want.Readback) || got.Unified != c.want.Unified {
			t.Errorf("%s: chose %+v, want %+v", c.name, got, c.want)
		}
		// A mapped block of the first device type: read in place only
		// when it is host-cached or nothing cached is offered.
		d := &Device{mem: got, info: DeviceInfo{MemoryTypes: c.types}}
		direct := d.directRead(&block{flags: c.types[got.Device[0]].Flags})
		if (c.readback == "direct") != direct {
			t.Errorf("%s: direct reads of device memory %v, want %s", c.name, direct, c.readback)
		}
	}
	if _, err := chooseMemory([]MemoryType{{0, dl}}, []Heap{{gib, true}}, TypeDiscrete, false); err == nil {
		t.Error("no host-visible type: want an error")
	}
}

func TestChooseQueueFamily(t *testing.T) {
	gfx := QueueFamily{Queues: 1, Graphics: true, Compute: true, Transfer: true, TimestampValidBits: 64}
	comp := QueueFamily{Queues: 8, Compute: true, Transfer: true, TimestampValidBits: 64}
	xfer := QueueFamily{Queues: 2, Transfer: true}
	cases := []struct {
		name string
		fams []QueueFamily
		want int
	}{
		{"lavapipe", []QueueFamily{gfx}, 0},
		{"NVIDIA: async compute family", []QueueFamily{gfx, xfer, comp}, 2},
		{"compute without timestamps beats graphics", []QueueFamily{gfx, {Queues: 1, Compute: true}}, 1},
		{"timestamps break ties", []QueueFamily{{Queues: 1, Graphics: true, Compute: true}, gfx}, 1},
		{"no compute", []QueueFamily{xfer}, -1},
	}
	for _, c := range cases {
		got, err := chooseQueueFamily(c.fams)
		if got != c.want || (err != nil) != (c.want < 0) {
			t.Errorf("%s: family %d (%v), want %d", c.name, got, err, c.want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	l, err := ParseLimits("align=256,alloc=256M,shared=32K,invocs=256")
	if err != nil || l != SmallGPULimits {
		t.Errorf("ParseLimits = %+v, %v; want %+v", l, err, SmallGPULimits)
	}
	if l, err := ParseLimits("small"); err != nil || l != SmallGPULimits {
		t.Errorf("ParseLimits(small) = %+v, %v", l, err)
	}
	for _, bad := range []string{"align=100", "alloc", "speed=3", "shared=0", "alloc=1X"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q): want an error", bad)
		}
	}
	info := DeviceInfo{MinStorageBufferOffsetAlignment: 16, SharedMemoryBytes: 64 << 10, MaxWorkgroupInvocs: 1024,
		MaxWorkgroupSize: [3]uint32{1024, 1024, 64}, MaxStorageBufferRange: 1 << 31, MaxMemoryAllocationSize: 1 << 32}
	SmallGPULimits.apply(&info)
	if info.MinStorageBufferOffsetAlignment != 256 || info.SharedMemoryBytes != 32<<10 || info.MaxWorkgroupInvocs != 256 ||
		info.MaxWorkgroupSize != [3]uint32{256, 256, 64} || info.MaxAllocationBytes() != 256<<20 {
		t.Errorf("limits applied: %+v", info)
	}
}
