package engine

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// arena sub-allocates buffers from a few large VkDeviceMemory blocks, each
// bound to one VkBuffer spanning it, so a tensor is (block, offset, size)
// and a descriptor binds a range of the block's buffer.
type arena struct {
	dev       *Device
	blockSize int64
	align     int64

	mu     sync.Mutex
	blocks []*block
	nextID int
	live   int64 // bytes allocated to live buffers
	peak   int64
	total  int64 // bytes of all blocks
}

type block struct {
	id     int
	mem    vk.DeviceMemory
	buf    vk.Buffer
	size   int64
	mapped unsafe.Pointer // non-nil when host-visible
	fl     *freeList
	own    bool // dedicated to one buffer: destroyed when it is freed

	memType int         // the memory type it was allocated from
	flags   MemoryFlags // that type's properties
}

func newArena(d *Device, blockSize int64) *arena {
	align := int64(d.info.MinStorageBufferOffsetAlignment)
	if align < 16 {
		align = 16 // vec4 loads
	}
	return &arena{dev: d, blockSize: min(blockSize, d.info.MaxAllocationBytes()), align: align}
}

// MaxAllocationBytes is the largest buffer the device allows: one
// allocation within maxMemoryAllocationSize and one VkBuffer within
// maxBufferSize. Larger data must be split over several buffers.
func (d DeviceInfo) MaxAllocationBytes() int64 {
	lim := int64(1) << 62
	for _, l := range []uint64{d.MaxMemoryAllocationSize, d.MaxBufferSize} {
		if l > 0 && l < uint64(lim) {
			lim = int64(l)
		}
	}
	return lim
}

// MemoryStats describes device memory held by the arena.
type MemoryStats struct {
	LiveBytes  int64 // bytes in live buffers
	PeakBytes  int64 // high-water mark of LiveBytes
	BlockBytes int64 // bytes of VkDeviceMemory allocated
	Blocks     int
}

// MemoryStats reports the arena's usage.
func (d *Device) MemoryStats() MemoryStats {
	a := d.arena
	a.mu.Lock()
	defer a.mu.Unlock()
	return MemoryStats{LiveBytes: a.live, PeakBytes: a.peak, BlockBytes: a.total, Blocks: len(a.blocks)}
}

// ResetPeak sets the peak to the current live bytes.
func (d *Device) ResetPeak() {
	d.arena.mu.Lock()
	d.arena.peak = d.arena.live
	d.arena.mu.Unlock()
}

func (a *arena) alloc(size int64) (*block, int64, int64, error) {
	n := (size + a.align - 1) &^ (a.align - 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	dedicated := a.dedicated()
	if n <= a.blockSize/2 && !dedicated {
		for _, b := range a.blocks {
			if b.own {
				continue
			}
			if off, ok := b.fl.alloc(n, a.align); ok {
				a.account(n)
				return b, off, n, nil
			}
		}
	}
	bsize, own := a.blockSize, false
	if n > a.blockSize/2 || dedicated {
		bsize, own = n, true
	}
	b, err := a.newBlock(bsize, a.dev.mem.Device, !a.dev.opts.DisableUnifiedMemory)
	if err != nil {
		return nil, 0, 0, err
	}
	b.own = own
	off, _ := b.fl.alloc(n, a.align)
	a.account(n)
	return b, off, n, nil
}

// dedicated reports whether every buffer gets its own block: under
// GPU-assisted validation, since the layer bounds a shader's accesses by
// the VkBuffer's size, not by the bound range, and shared blocks would
// hide overruns into neighbours.
func (a *arena) dedicated() bool {
	return a.dev.opts.GPUAssistedValidation && a.dev.ValidationEnabled()
}

func (a *arena) account(n int64) {
	a.live += n
	if a.live > a.peak {
		a.peak = a.live
	}
}

func (a *arena) release(b *block, off, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b.fl.release(off, n)
	a.live -= n
	if b.own && b.fl.empty() {
		for i, x := range a.blocks {
			if x == b {
				a.blocks = append(a.blocks[:i], a.blocks[i+1:]...)
				break
			}
		}
		a.total -= b.size
		a.destroyBlock(b)
	}
}

// newBlock allocates a block from the first memory type of types that
// the buffer allows and that has room: an out-of-memory failure moves on
// to the next type. The block is mapped when mapIt and its type is
// host-visible and coherent.
func (a *arena) newBlock(size int64, types []int, mapIt bool) (*block, error) {
	d := a.dev
	dev := d.vkDevice()
	if lim := d.info.MaxAllocationBytes(); size > lim {
		return nil, fmt.Errorf("allocate %d bytes: more than the device allows in one allocation (maxMemoryAllocationSize/maxBufferSize %d): split it", size, lim)
	}
	bci := vk.BufferCreateInfo{
		SType:       vk.StructureTypeBufferCreateInfo,
		Size:        vk.DeviceSize(size),
		Usage:       vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit),
		SharingMode: vk.SharingModeExclusive,
	}
	var buf vk.Buffer
	err := check("vkCreateBuffer", vk.CreateBuffer(dev, &bci, nil, &buf))
	bci.Free()
	if err != nil {
		return nil, fmt.Errorf("allocate %d-byte block: %w", size, err)
	}
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(dev, buf, &req)
	req.Deref()
	mem, memType, err := allocateMemory(d, req, types)
	if err != nil {
		vk.DestroyBuffer(dev, buf, nil)
		return nil, fmt.Errorf("allocate %d-byte block: %w", size, err)
	}
	if err := check("vkBindBufferMemory", vk.BindBufferMemory(dev, buf, mem, 0)); err != nil {
		vk.DestroyBuffer(dev, buf, nil)
		vk.FreeMemory(dev, mem, nil)
		return nil, err
	}
	flags := d.info.MemoryTypes[memType].Flags
	b := &block{id: a.nextID, mem: mem, buf: buf, size: size, fl: newFreeList(size), memType: memType, flags: flags}
	a.nextID++
	if mapIt && flags&(MemHostVisible|MemHostCoherent) == MemHostVisible|MemHostCoherent {
		var p unsafe.Pointer
		if err := check("vkMapMemory", vk.MapMemory(dev, mem, 0, vk.DeviceSize(vk.WholeSize), 0, &p)); err != nil {
			a.destroyBlock(b)
			return nil, err
		}
		b.mapped = p
	}
	a.blocks = append(a.blocks, b)
	a.total += size
	return b, nil
}

// allocateMemory allocates req from the first of types that req allows,
// trying the next one when a heap is full.
func allocateMemory(d *Device, req vk.MemoryRequirements, types []int) (vk.DeviceMemory, int, error) {
	var last error
	for _, t := range types {
		if req.MemoryTypeBits&(1<<uint(t)) == 0 {
			continue
		}
		mai := vk.MemoryAllocateInfo{SType: vk.StructureTypeMemoryAllocateInfo, AllocationSize: req.Size, MemoryTypeIndex: uint32(t)}
		var mem vk.DeviceMemory
		err := check("vkAllocateMemory", vk.AllocateMemory(d.vkDevice(), &mai, nil, &mem))
		mai.Free()
		if err == nil {
			return mem, t, nil
		}
		if !errors.Is(err, ErrOutOfDeviceMemory) && !errors.Is(err, ErrOutOfHostMemory) {
			return nil, 0, err
		}
		last = fmt.Errorf("memory type %d (%v, heap %d): %w", t, d.info.MemoryTypes[t].Flags, d.info.MemoryTypes[t].Heap, err)
	}
	if last == nil {
		return nil, 0, fmt.Errorf("none of memory types %v is allowed for storage buffers (allowed: bits 0x%x)", types, req.MemoryTypeBits)
	}
	return nil, 0, last
}

func (a *arena) destroyBlock(b *block) {
	dev := a.dev.vkDevice()
	if b.mapped != nil {
		vk.UnmapMemory(dev, b.mem)
		b.mapped = nil
	}
	vk.DestroyBuffer(dev, b.buf, nil)
	vk.FreeMemory(dev, b.mem, nil)
}

func (a *arena) destroy() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.blocks {
		a.destroyBlock(b)
	}
	a.blocks = nil
	a.total, a.live = 0, 0
}
