package engine

import (
	"fmt"
	"slices"
	"strings"
)

// Details describes in several lines what nfvk uses of the device: its
// heaps, its memory types with the ones chosen for tensors and staging
// (in the order allocation tries them), its queue families with the one
// chosen, and the limits the kernels and the arena respect. For an open
// device (Device.Info) it shows the choices and limits in effect,
// including NFVK_FORCE_STAGING and NFVK_LIMITS.
func (d DeviceInfo) Details() string {
	var b strings.Builder
	for i, h := range d.Heaps {
		kind := "host"
		if h.DeviceLocal {
			kind = "device-local"
		}
		fmt.Fprintf(&b, "heap %d: %.2f GiB %s\n", i, float64(h.Size)/(1<<30), kind)
	}
	uses := func(i int) string {
		var u []string
		for _, c := range []struct {
			list []int
			name string
		}{{d.Memory.Device, "tensors"}, {d.Memory.Upload, "upload staging"}, {d.Memory.Readback, "read staging"}} {
			if k := slices.Index(c.list, i); k == 0 {
				u = append(u, c.name)
			} else if k > 0 {
				u = append(u, fmt.Sprintf("%s fallback %d", c.name, k))
			}
		}
		if len(u) == 0 {
			return "unused"
		}
		return strings.Join(u, ", ")
	}
	for i, t := range d.MemoryTypes {
		fmt.Fprintf(&b, "memory type %d: heap %d, %v: %s\n", i, t.Heap, t.Flags, uses(i))
	}
	if d.Memory.Unified {
		b.WriteString("tensors are mapped: uploads are plain copies, no staging\n")
	} else {
		b.WriteString("tensors are written and read through staging copies\n")
	}
	for i, q := range d.QueueFamilies {
		mark := ""
		if i == d.QueueFamily {
			mark = " <- nfvk's queue"
		}
		fmt.Fprintf(&b, "queue %v%s\n", q, mark)
	}
	size := func(n uint64) string {
		if n == 0 {
			return "not reported"
		}
		return fmt.Sprintf("%d MiB", n>>20)
	}
	fmt.Fprintf(&b, "limits: maxMemoryAllocationSize %s, maxBufferSize %s, maxStorageBufferRange %d MiB, minStorageBufferOffsetAlignment %d\n",
		size(d.MaxMemoryAllocationSize), size(d.MaxBufferSize), d.MaxStorageBufferRange>>20, d.MinStorageBufferOffsetAlignment)
	fmt.Fprintf(&b, "limits: shared memory %d KiB, %d invocations per workgroup (size %v), workgroup count %v, push constants %d B, %d storage buffers per stage\n",
		d.SharedMemoryBytes>>10, d.MaxWorkgroupInvocs, d.MaxWorkgroupSize, d.MaxWorkgroupCount, d.MaxPushConstantsSize, d.MaxStorageBuffersPerStage)
	return b.String()
}
