package engine

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Buffer is a range of device memory sub-allocated from the arena. Free
// returns it; Device.Close frees what is left.
type Buffer struct {
	dev   *Device
	name  string
	blk   *block
	off   int64 // offset in the block's VkBuffer
	size  int64 // bytes requested
	alloc int64 // bytes reserved (aligned)
	freed bool
}

// NewBuffer allocates size bytes of device memory. The name appears in
// errors. Contents are undefined until written.
func (d *Device) NewBuffer(name string, size int64) (*Buffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("buffer %q: size %d must be positive", name, size)
	}
	blk, off, n, err := d.arena.alloc(size)
	if err != nil {
		return nil, fmt.Errorf("buffer %q (%d bytes): %w", name, size, err)
	}
	return &Buffer{dev: d, name: name, blk: blk, off: off, size: size, alloc: n}, nil
}

// Name is the name given at allocation.
func (b *Buffer) Name() string { return b.name }

// Size is the buffer's size in bytes.
func (b *Buffer) Size() int64 { return b.size }

// Free returns the buffer's memory to the arena. The buffer must not be
// used by a program that is still recorded.
func (b *Buffer) Free() {
	if b == nil || b.freed {
		return
	}
	b.freed = true
	b.dev.arena.release(b.blk, b.off, b.alloc)
}

func (b *Buffer) checkRange(op string, off, n int64) error {
	if b.freed {
		return fmt.Errorf("%s buffer %q: used after Free", op, b.name)
	}
	if off < 0 || n < 0 || off+n > b.size {
		return fmt.Errorf("%s buffer %q: range [%d, %d) outside its %d bytes", op, b.name, off, off+n, b.size)
	}
	return nil
}

// Write copies data into the buffer at byte offset off.
func (b *Buffer) Write(off int64, data []byte) error {
	if err := b.checkRange("write", off, int64(len(data))); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	if b.blk.mapped != nil {
		dst := unsafe.Slice((*byte)(unsafe.Add(b.blk.mapped, b.off+off)), len(data))
		copy(dst, data)
		return nil
	}
	return b.dev.stagedCopy(b, off, data, true)
}

// Read copies len(data) bytes from byte offset off of the buffer.
func (b *Buffer) Read(off int64, data []byte) error {
	if err := b.checkRange("read", off, int64(len(data))); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	if b.blk.mapped != nil && b.dev.directRead(b.blk) {
		src := unsafe.Slice((*byte)(unsafe.Add(b.blk.mapped, b.off+off)), len(data))
		copy(data, src)
		return nil
	}
	return b.dev.stagedCopy(b, off, data, false)
}

// Number is the element types buffers are read and written as.
type Number interface {
	~float32 | ~float64 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~uint16 | ~int16 | ~uint8 | ~int8
}

func asBytes[T Number](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))
}

// Upload writes v at the start of b.
func Upload[T Number](b *Buffer, v []T) error { return b.Write(0, asBytes(v)) }

// Download reads len(v) elements from the start of b.
func Download[T Number](b *Buffer, v []T) error { return b.Read(0, asBytes(v)) }

// stagingChunk bounds the host-visible staging buffer used on devices
// without unified memory; larger copies go in chunks.
const stagingChunk = 16 << 20

// directRead reports whether reads of a mapped block are plain copies:
// when its memory is host-cached, or when the device has no host-cached
// memory to stage through. Uncached device memory (ReBAR/SAM, the BAR
// window) is written in place but read through a host-cached staging
// copy: the CPU reads uncached memory over PCIe a word at a time.
func (d *Device) directRead(b *block) bool {
	if b.flags&MemHostCached != 0 || len(d.mem.Readback) == 0 {
		return true
	}
	return d.info.MemoryTypes[d.mem.Readback[0]].Flags&MemHostCached == 0
}

// stagedCopy moves data between host and a device buffer through a
// host-visible staging buffer (host-cached for reads) and a one-shot
// command buffer. The barriers order the copy after earlier compute work
// and make it visible to later compute work (upload) or to the host
// (download).
func (d *Device) stagedCopy(b *Buffer, off int64, data []byte, upload bool) error {
	d.queueMu.Lock()
	defer d.queueMu.Unlock()
	stage, err := d.stagingBlock(upload)
	if err != nil {
		return err
	}
	for done := int64(0); done < int64(len(data)); {
		n := min(int64(len(data))-done, stage.size)
		host := unsafe.Slice((*byte)(stage.mapped), n)
		if upload {
			copy(host, data[done:done+n])
		}
		var cb vk.CommandBuffer
		if cb, err = d.oneShotBegin(); err != nil {
			return err
		}
		ccb := C.VkCommandBuffer(unsafe.Pointer(cb))
		const compute = C.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
		const transfer = C.VK_PIPELINE_STAGE_TRANSFER_BIT
		shaderRW := C.VkAccessFlags(C.VK_ACCESS_SHADER_READ_BIT | C.VK_ACCESS_SHADER_WRITE_BIT)
		C.nfvk_cmd_barrier(d.fns, ccb, compute, transfer, C.VK_ACCESS_SHADER_WRITE_BIT, C.VK_ACCESS_TRANSFER_READ_BIT|C.VK_ACCESS_TRANSFER_WRITE_BIT)
		devBuf := C.VkBuffer(unsafe.Pointer(b.blk.buf))
		stBuf := C.VkBuffer(unsafe.Pointer(stage.buf))
		if upload {
			C.nfvk_cmd_copy(d.fns, ccb, stBuf, 0, devBuf, C.VkDeviceSize(b.off+off+done), C.VkDeviceSize(n))
			C.nfvk_cmd_barrier(d.fns, ccb, transfer, compute, C.VK_ACCESS_TRANSFER_WRITE_BIT, shaderRW)
		} else {
			C.nfvk_cmd_copy(d.fns, ccb, devBuf, C.VkDeviceSize(b.off+off+done), stBuf, 0, C.VkDeviceSize(n))
			C.nfvk_cmd_barrier(d.fns, ccb, transfer, C.VK_PIPELINE_STAGE_HOST_BIT, C.VK_ACCESS_TRANSFER_WRITE_BIT, C.VK_ACCESS_HOST_READ_BIT)
		}
		if err = d.oneShotSubmit(cb); err != nil {
			return fmt.Errorf("staged copy of buffer %q: %w", b.name, err)
		}
		if !upload {
			if stage.flags&MemHostCoherent == 0 {
				// Non-coherent cached memory: drop stale CPU cache lines.
				r := C.nfvk_invalidate_memory(d.fns, C.VkDeviceMemory(unsafe.Pointer(stage.mem)))
				if err := check("vkInvalidateMappedMemoryRanges", vk.Result(r)); err != nil {
					return fmt.Errorf("staged read of buffer %q: %w", b.name, err)
				}
			}
			copy(data[done:done+n], host)
		}
		done += n
	}
	return nil
}

// stagingBlock returns the staging buffer for uploads or for reads,
// allocating it on first use: dedicated host-visible blocks outside the
// arena, one block when both want the same memory type.
func (d *Device) stagingBlock(upload bool) (*block, error) {
	if d.stagingArena == nil {
		d.stagingArena = &arena{dev: d, blockSize: min(stagingChunk, d.info.MaxAllocationBytes()), align: 16}
	}
	if upload || len(d.mem.Readback) == 0 || (d.staging != nil && d.staging.memType == d.mem.Readback[0]) {
		if d.staging == nil && d.readback != nil && d.readback.memType == d.mem.Upload[0] {
			d.staging = d.readback
		}
		if d.staging == nil {
			blk, err := d.newStaging(d.mem.Upload, "staging buffer")
			if err != nil {
				return nil, err
			}
			d.staging = blk
		}
		return d.staging, nil
	}
	if d.readback == nil {
		blk, err := d.newStaging(d.mem.Readback, "readback staging buffer")
		if err != nil {
			return nil, err
		}
		d.readback = blk
	}
	return d.readback, nil
}

func (d *Device) newStaging(types []int, what string) (*block, error) {
	// Mapped here, not by newBlock: read staging may be non-coherent.
	blk, err := d.stagingArena.newBlock(d.stagingArena.blockSize, types, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var p unsafe.Pointer
	if err := check("vkMapMemory", vk.MapMemory(d.vkDevice(), blk.mem, 0, vk.DeviceSize(vk.WholeSize), 0, &p)); err != nil {
		d.stagingArena.destroyBlock(blk)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	blk.mapped = p
	return blk, nil
}

// oneShotBegin allocates and begins a command buffer from the one-shot
// pool; the caller holds queueMu.
func (d *Device) oneShotBegin() (vk.CommandBuffer, error) {
	cbs := make([]vk.CommandBuffer, 1)
	ai := vk.CommandBufferAllocateInfo{SType: vk.StructureTypeCommandBufferAllocateInfo, CommandPool: d.oneShot, Level: vk.CommandBufferLevelPrimary, CommandBufferCount: 1}
	err := check("vkAllocateCommandBuffers", vk.AllocateCommandBuffers(d.vkDevice(), &ai, cbs))
	ai.Free()
	if err != nil {
		return nil, err
	}
	if err := check("vkBeginCommandBuffer", vk.Result(C.nfvk_begin(d.fns, C.VkCommandBuffer(unsafe.Pointer(cbs[0])), C.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT))); err != nil {
		vk.FreeCommandBuffers(d.vkDevice(), d.oneShot, 1, cbs)
		return nil, err
	}
	return cbs[0], nil
}

// oneShotSubmit ends, submits and waits for cb, then frees it; the caller
// holds queueMu.
func (d *Device) oneShotSubmit(cb vk.CommandBuffer) error {
	defer vk.FreeCommandBuffers(d.vkDevice(), d.oneShot, 1, []vk.CommandBuffer{cb})
	ccb := C.VkCommandBuffer(unsafe.Pointer(cb))
	if err := check("vkEndCommandBuffer", vk.Result(C.nfvk_end(d.fns, ccb))); err != nil {
		return err
	}
	fence := C.VkFence(unsafe.Pointer(d.fence))
	d.submits.Add(1)
	if err := check("vkQueueSubmit", vk.Result(C.nfvk_submit(d.fns, d.queue, ccb, fence))); err != nil {
		return err
	}
	if err := d.waitFence(context.Background(), d.fence, "a transfer"); err != nil {
		return err
	}
	return check("vkResetFences", vk.Result(C.nfvk_reset_fence(d.fns, fence)))
}
