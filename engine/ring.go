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

// RingSlots is the number of staging slots of an UploadRing: the device
// reads one while the host fills the next.
const RingSlots = 2

// UploadRing refreshes device buffers that are not host-visible (a
// discrete GPU's device-local memory) from the host before each run of a
// program, inside that run's submit: the host writes a span's new bytes
// into the ring's current slot (Set), and Program.SubmitWith puts that
// slot's prerecorded copy command buffers of the spans set since the last
// run in the same vkQueueSubmit as the program. Every slot has its own
// host-visible staging memory and one recorded copy per span, so nothing
// is recorded per run; a slot is written again only after the run that
// read it has finished (its program's fence).
//
// An UploadRing is not safe for concurrent use.
type UploadRing struct {
	dev      *Device
	name     string
	spans    []Span
	offs     []int64 // span i's offset in a slot
	slotSize int64
	arena    *arena
	pool     vk.CommandPool
	slots    []ringSlot
	cur      int    // the slot the next run reads
	dirty    []bool // spans Set for the next run
	pre      []C.VkCommandBuffer
	closed   bool
}

type ringSlot struct {
	blk *block
	cbs []vk.CommandBuffer // one copy per span
	// reader is the program run that last read the slot.
	reader *Program
	run    uint64
}

// NewUploadRing makes a ring that refreshes spans: any of them may be Set
// before a run, the others keep their contents. Spans in host-visible
// memory are better written directly (Buffer.Write); the ring works for
// them too.
func (d *Device) NewUploadRing(name string, spans []Span) (_ *UploadRing, err error) {
	r := &UploadRing{dev: d, name: name, spans: spans, dirty: make([]bool, len(spans))}
	for i, s := range spans {
		if s.Buf == nil || s.Size <= 0 {
			return nil, fmt.Errorf("upload ring %s: span %d is empty", name, i)
		}
		if err := s.Buf.checkRange(fmt.Sprintf("upload ring %s span %d:", name, i), s.Off, s.Size); err != nil {
			return nil, err
		}
		r.offs = append(r.offs, r.slotSize)
		r.slotSize += (s.Size + 15) &^ 15
	}
	if r.slotSize == 0 {
		return nil, fmt.Errorf("upload ring %s: no spans", name)
	}
	defer func() {
		if err != nil {
			r.destroy()
		}
	}()
	r.arena = &arena{dev: d, blockSize: r.slotSize, align: 16}
	var pool vk.CommandPool
	pci := vk.CommandPoolCreateInfo{SType: vk.StructureTypeCommandPoolCreateInfo, QueueFamilyIndex: d.qfamily}
	err = check("vkCreateCommandPool", vk.CreateCommandPool(d.vkDevice(), &pci, nil, &pool))
	pci.Free()
	if err != nil {
		return nil, fmt.Errorf("upload ring %s: %w", name, err)
	}
	r.pool = pool
	for range RingSlots {
		blk, err := r.arena.newBlock(r.slotSize, d.mem.Upload, true)
		if err == nil && blk.mapped == nil {
			err = fmt.Errorf("memory type %d is not host-visible and coherent", blk.memType)
		}
		if err != nil {
			return nil, fmt.Errorf("upload ring %s: staging slot of %d bytes: %w", name, r.slotSize, err)
		}
		sl := ringSlot{blk: blk, cbs: make([]vk.CommandBuffer, len(spans))}
		if err := r.record(&sl); err != nil {
			return nil, fmt.Errorf("upload ring %s: %w", name, err)
		}
		r.slots = append(r.slots, sl)
	}
	d.mu.Lock()
	d.rings[r] = struct{}{}
	d.mu.Unlock()
	return r, nil
}

// record writes one command buffer per span copying it from the slot.
// The first barrier orders the copy after the compute work already on the
// queue (an earlier run may still read or write the span); the second
// makes the copied bytes visible to the run's shaders.
func (r *UploadRing) record(sl *ringSlot) error {
	d := r.dev
	ai := vk.CommandBufferAllocateInfo{SType: vk.StructureTypeCommandBufferAllocateInfo, CommandPool: r.pool, Level: vk.CommandBufferLevelPrimary, CommandBufferCount: uint32(len(r.spans))}
	err := check("vkAllocateCommandBuffers", vk.AllocateCommandBuffers(d.vkDevice(), &ai, sl.cbs))
	ai.Free()
	if err != nil {
		return err
	}
	shaderRW := C.VkAccessFlags(accessShaderR | accessShaderW)
	const transfer = C.VK_PIPELINE_STAGE_TRANSFER_BIT
	for i, s := range r.spans {
		cb := C.VkCommandBuffer(unsafe.Pointer(sl.cbs[i]))
		if err := check("vkBeginCommandBuffer", vk.Result(C.nfvk_begin(d.fns, cb, 0))); err != nil {
			return err
		}
		C.nfvk_cmd_barrier(d.fns, cb, stageCompute, transfer, shaderRW, C.VK_ACCESS_TRANSFER_WRITE_BIT)
		C.nfvk_cmd_copy(d.fns, cb, C.VkBuffer(unsafe.Pointer(sl.blk.buf)), C.VkDeviceSize(r.offs[i]),
			C.VkBuffer(unsafe.Pointer(s.Buf.blk.buf)), C.VkDeviceSize(s.Buf.off+s.Off), C.VkDeviceSize(s.Size))
		C.nfvk_cmd_barrier(d.fns, cb, transfer, stageCompute, C.VK_ACCESS_TRANSFER_WRITE_BIT, shaderRW)
		if err := check("vkEndCommandBuffer", vk.Result(C.nfvk_end(d.fns, cb))); err != nil {
			return err
		}
	}
	return nil
}

// Slot is the index of the slot the next run reads.
func (r *UploadRing) Slot() int { return r.cur }

// Set writes data, the whole new value of span i, into the current slot;
// the next SubmitWith copies it into the span. When the run that last
// read this slot is still in flight Set waits for it first.
func (r *UploadRing) Set(i int, data []byte) error {
	if r.closed {
		return fmt.Errorf("upload ring %s: Set after Close", r.name)
	}
	if i < 0 || i >= len(r.spans) {
		return fmt.Errorf("upload ring %s: span %d of %d", r.name, i, len(r.spans))
	}
	if int64(len(data)) != r.spans[i].Size {
		return fmt.Errorf("upload ring %s: span %d (buffer %q) is %d bytes, got %d", r.name, i, r.spans[i].Buf.name, r.spans[i].Size, len(data))
	}
	sl := &r.slots[r.cur]
	if p := sl.reader; p != nil && p.inflight && p.runs == sl.run {
		if err := p.Wait(context.Background()); err != nil {
			return fmt.Errorf("upload ring %s: %w", r.name, err)
		}
	}
	dst := unsafe.Slice((*byte)(unsafe.Add(sl.blk.mapped, r.offs[i])), len(data))
	copy(dst, data)
	r.dirty[i] = true
	return nil
}

// SubmitWith starts one run of p that first copies the spans Set since
// the ring's last run, in one vkQueueSubmit (with the first segment when
// p has several), and moves the ring on to its next slot.
func (p *Program) SubmitWith(r *UploadRing) error {
	if r == nil {
		return p.Submit()
	}
	if r.closed {
		return fmt.Errorf("program %s: upload ring %s is closed", p.name, r.name)
	}
	sl := &r.slots[r.cur]
	r.pre = r.pre[:0]
	for i, dirty := range r.dirty {
		if dirty {
			r.pre = append(r.pre, C.VkCommandBuffer(unsafe.Pointer(sl.cbs[i])))
		}
	}
	if err := p.submit(r.pre); err != nil {
		return err
	}
	clear(r.dirty)
	sl.reader, sl.run = p, p.runs
	r.cur = (r.cur + 1) % len(r.slots)
	return nil
}

// Submits counts the device's queue submits so far: program segments and
// staged copies.
func (d *Device) Submits() uint64 { return d.submits.Load() }

// Mapped reports whether the buffer's memory is host-visible and mapped,
// so Write is a plain copy.
func (b *Buffer) Mapped() bool { return b.blk.mapped != nil }

// Close waits for runs that read the ring and frees it.
func (r *UploadRing) Close() {
	if r.closed {
		return
	}
	for _, sl := range r.slots {
		if p := sl.reader; p != nil && p.inflight && p.runs == sl.run {
			_ = p.Wait(context.Background())
		}
	}
	r.destroy()
	r.dev.mu.Lock()
	delete(r.dev.rings, r)
	r.dev.mu.Unlock()
}

func (r *UploadRing) destroy() {
	r.closed = true
	d := r.dev
	if d.fns == nil {
		return
	}
	if r.pool != vk.NullCommandPool {
		vk.DestroyCommandPool(d.vkDevice(), r.pool, nil)
		r.pool = vk.NullCommandPool
	}
	if r.arena != nil {
		r.arena.destroy()
	}
	r.slots = nil
}
