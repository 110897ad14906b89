package engine

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Program is a list of compute dispatches recorded once into command
// buffers and submitted many times. Per-run values (inputs, learning
// rates, seeds) live in buffers the host rewrites between runs; the
// commands never change. Build it with Dispatch, then Record, then Run.
//
// A Program is not safe for concurrent use.
type Program struct {
	dev     *Device
	name    string
	profile bool

	ds           []dispatch
	hz           hazards
	forceBarrier bool
	rec          []step // the order Record wrote (schedule)

	recorded bool
	pool     vk.CommandPool
	cbs      []vk.CommandBuffer // one per submit segment
	dpool    C.VkDescriptorPool
	fence    vk.Fence
	queries  vk.QueryPool
	inflight bool
	closed   bool
	runs     uint64              // submitted runs, for UploadRing's slot guard
	subBuf   []C.VkCommandBuffer // the command buffers of a submit
	subCount []C.uint32_t        // how many of them each batch takes
}

// ProgramOptions configure a Program.
type ProgramOptions struct {
	// Profile records a GPU timestamp after every dispatch (Timings).
	Profile bool
}

// NewProgram starts an empty program.
func (d *Device) NewProgram(name string, opts ProgramOptions) *Program {
	p := &Program{dev: d, name: name, profile: opts.Profile && d.info.TimestampValidBits > 0}
	d.mu.Lock()
	d.programs[p] = struct{}{}
	d.mu.Unlock()
	return p
}

// Dispatch appends a dispatch of pipe over groups workgroups, with push
// constants push (at most 128 bytes) and buffers args bound to bindings
// 0..len(args)-1. The scheduler puts a barrier before it only when it
// depends on an earlier dispatch through the declared ranges.
func (p *Program) Dispatch(label string, pipe *Pipeline, groups [3]uint32, push []byte, args ...Arg) error {
	if p.recorded {
		return fmt.Errorf("program %s: dispatch %s after Record", p.name, label)
	}
	if err := p.dev.validateDispatch(label, pipe, groups, push, args); err != nil {
		return fmt.Errorf("program %s: %w", p.name, err)
	}
	p.plan(label, pipe, groups, push, args)
	return nil
}

// Barrier forces a full barrier before the next dispatch, for
// dependencies the declared ranges cannot express.
func (p *Program) Barrier() { p.forceBarrier = true }

// Dispatches returns the planned dispatches, with their barriers.
func (p *Program) Dispatches() []DispatchInfo {
	out := make([]DispatchInfo, len(p.ds))
	for i, d := range p.ds {
		out[i] = d.DispatchInfo
	}
	return out
}

// Len is the number of dispatches.
func (p *Program) Len() int { return len(p.ds) }

// Barriers counts the barriers the scheduler placed between dispatches.
func (p *Program) Barriers() int {
	n := 0
	for _, d := range p.ds {
		if d.BarrierBefore {
			n++
		}
	}
	return n
}

// Segments is the number of batches (command buffers) of one Run, all
// in one vkQueueSubmit.
func (p *Program) Segments() int { return len(p.cbs) }

const (
	stageCompute  = C.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
	accessShaderR = C.VK_ACCESS_SHADER_READ_BIT
	accessShaderW = C.VK_ACCESS_SHADER_WRITE_BIT
)

// Record writes the program into command buffers: one per segment of at
// most Options.MaxDispatchesPerSubmit dispatches.
func (p *Program) Record() error {
	if p.recorded {
		return nil
	}
	if p.closed {
		return fmt.Errorf("program %s: Record after Close", p.name)
	}
	d := p.dev
	dev := d.vkDevice()
	if err := p.createObjects(); err != nil {
		p.destroy()
		return fmt.Errorf("program %s: %w", p.name, err)
	}
	p.rec = p.schedule()
	per := d.opts.MaxDispatchesPerSubmit
	nseg := max(1, (len(p.ds)+per-1)/per)
	p.cbs = make([]vk.CommandBuffer, nseg)
	ai := vk.CommandBufferAllocateInfo{SType: vk.StructureTypeCommandBufferAllocateInfo, CommandPool: p.pool, Level: vk.CommandBufferLevelPrimary, CommandBufferCount: uint32(nseg)}
	err := check("vkAllocateCommandBuffers", vk.AllocateCommandBuffers(dev, &ai, p.cbs))
	ai.Free()
	if err != nil {
		p.destroy()
		return fmt.Errorf("program %s: %w", p.name, err)
	}
	bufs := make([]C.VkBuffer, d.maxBind)
	offs := make([]C.uint64_t, d.maxBind)
	ranges := make([]C.uint64_t, d.maxBind)
	layout := C.VkPipelineLayout(unsafe.Pointer(d.plLayout))
	setLayout := C.VkDescriptorSetLayout(unsafe.Pointer(d.setLayout))
	qp := C.VkQueryPool(unsafe.Pointer(p.queries))
	for s := 0; s < nseg; s++ {
		cb := C.VkCommandBuffer(unsafe.Pointer(p.cbs[s]))
		if err := check("vkBeginCommandBuffer", vk.Result(C.nfvk_begin(d.fns, cb, 0))); err != nil {
			p.destroy()
			return fmt.Errorf("program %s: %w", p.name, err)
		}
		if s == 0 {
			// Order this run after whatever ran before it on the queue
			// (an earlier run, another program, a staged upload).
			C.nfvk_cmd_barrier(d.fns, cb, C.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, stageCompute,
				C.VK_ACCESS_MEMORY_WRITE_BIT, accessShaderR|accessShaderW)
			if p.profile {
				C.nfvk_cmd_reset_queries(d.fns, cb, qp, 0, C.uint32_t(len(p.ds)+1))
				C.nfvk_cmd_timestamp(d.fns, cb, C.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qp, 0)
			}
		}
		for i := s * per; i < min(len(p.ds), (s+1)*per); i++ {
			ds := &p.ds[p.rec[i].idx]
			if p.rec[i].barrier {
				C.nfvk_cmd_barrier(d.fns, cb, stageCompute, stageCompute, accessShaderW, accessShaderR|accessShaderW)
			}
			var set C.VkDescriptorSet
			if err := check("vkAllocateDescriptorSets", vk.Result(C.nfvk_alloc_set(d.fns, p.dpool, setLayout, &set))); err != nil {
				p.destroy()
				return fmt.Errorf("program %s: dispatch %s: %w", p.name, ds.Label, err)
			}
			for j, a := range ds.args {
				bufs[j] = C.VkBuffer(unsafe.Pointer(a.Buf.blk.buf))
				offs[j] = C.uint64_t(a.Buf.off + a.Off)
				ranges[j] = C.uint64_t(a.Size)
			}
			if n := len(ds.args); n > 0 {
				C.nfvk_write_set(d.fns, set, &bufs[0], &offs[0], &ranges[0], C.uint32_t(n))
			}
			var push unsafe.Pointer
			if len(ds.push) > 0 {
				push = unsafe.Pointer(&ds.push[0])
			}
			C.nfvk_cmd_dispatch(d.fns, cb, C.VkPipeline(unsafe.Pointer(ds.pipe.p)), layout, set, push, C.uint32_t(len(ds.push)),
				C.uint32_t(ds.Groups[0]), C.uint32_t(ds.Groups[1]), C.uint32_t(ds.Groups[2]))
			if p.profile {
				C.nfvk_cmd_timestamp(d.fns, cb, C.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, C.uint32_t(i+1))
			}
		}
		if s == nseg-1 {
			// Make the results visible to the host and to transfers.
			C.nfvk_cmd_barrier(d.fns, cb, stageCompute, C.VK_PIPELINE_STAGE_HOST_BIT|C.VK_PIPELINE_STAGE_TRANSFER_BIT,
				accessShaderW, C.VK_ACCESS_HOST_READ_BIT|C.VK_ACCESS_TRANSFER_READ_BIT)
		}
		if err := check("vkEndCommandBuffer", vk.Result(C.nfvk_end(d.fns, cb))); err != nil {
			p.destroy()
			return fmt.Errorf("program %s: %w", p.name, err)
		}
	}
	p.recorded = true
	return nil
}

func (p *Program) createObjects() error {
	d := p.dev
	dev := d.vkDevice()
	var pool vk.CommandPool
	pci := vk.CommandPoolCreateInfo{SType: vk.StructureTypeCommandPoolCreateInfo, QueueFamilyIndex: d.qfamily}
	err := check("vkCreateCommandPool", vk.CreateCommandPool(dev, &pci, nil, &pool))
	pci.Free()
	if err != nil {
		return err
	}
	p.pool = pool
	nbuf := 0
	for _, ds := range p.ds {
		nbuf += len(ds.args)
	}
	if err := check("vkCreateDescriptorPool", vk.Result(C.nfvk_create_descriptor_pool(d.fns, C.uint32_t(len(p.ds)), C.uint32_t(nbuf), &p.dpool))); err != nil {
		return err
	}
	if p.fence, err = d.newFence(); err != nil {
		return err
	}
	if p.profile {
		qci := vk.QueryPoolCreateInfo{SType: vk.StructureTypeQueryPoolCreateInfo, QueryType: vk.QueryTypeTimestamp, QueryCount: uint32(len(p.ds) + 1)}
		var qp vk.QueryPool
		err := check("vkCreateQueryPool", vk.CreateQueryPool(dev, &qci, nil, &qp))
		qci.Free()
		if err != nil {
			return err
		}
		p.queries = qp
	}
	return nil
}

// Submit starts one run of the program (recording it first if needed).
// Call Wait before reading results or submitting again.
func (p *Program) Submit() error { return p.submit(nil) }

// submit starts one run, with the command buffers pre (uploads) heading
// the first segment's batch.
func (p *Program) submit(pre []C.VkCommandBuffer) error {
	if !p.recorded {
		if err := p.Record(); err != nil {
			return err
		}
	}
	if p.inflight {
		if err := p.Wait(context.Background()); err != nil {
			return err
		}
	}
	// One vkQueueSubmit whatever the segments: each is its own batch
	// (what a driver's watchdog times), the uploads head the first.
	p.subBuf = append(p.subBuf[:0], pre...)
	p.subCount = append(p.subCount[:0], C.uint32_t(len(pre)+1))
	for s, cb := range p.cbs {
		p.subBuf = append(p.subBuf, C.VkCommandBuffer(unsafe.Pointer(cb)))
		if s > 0 {
			p.subCount = append(p.subCount, 1)
		}
	}
	d := p.dev
	d.queueMu.Lock()
	defer d.queueMu.Unlock()
	d.submits.Add(1)
	if err := check("vkQueueSubmit", vk.Result(C.nfvk_submit_batches(d.fns, d.queue, &p.subBuf[0], &p.subCount[0],
		C.uint32_t(len(p.subCount)), C.VkFence(unsafe.Pointer(p.fence))))); err != nil {
		return fmt.Errorf("program %s: submit of %d segments: %w", p.name, len(p.cbs), err)
	}
	p.inflight = true
	p.runs++
	return nil
}

// Wait blocks until the submitted run finishes or ctx is done. When ctx
// ends first the run keeps going on the device; a later Wait or Submit
// waits for it.
func (p *Program) Wait(ctx context.Context) error {
	if !p.inflight {
		return nil
	}
	d := p.dev
	what := "program " + p.name
	if p.runs == 1 {
		// Drivers that generate code at the first dispatch (lavapipe)
		// make a first run far slower than the rest: say so in reports.
		what += " (its first run: some drivers, lavapipe among them, compile its kernels now)"
	}
	if err := d.waitFence(ctx, p.fence, what); err != nil {
		return err
	}
	p.inflight = false
	return check("vkResetFences", vk.Result(C.nfvk_reset_fence(d.fns, C.VkFence(unsafe.Pointer(p.fence)))))
}

// Run submits the program and waits for it.
func (p *Program) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Submit(); err != nil {
		return err
	}
	return p.Wait(ctx)
}

// Timing is the GPU time of one profiled dispatch: from the end of the
// previous dispatch (or the run's start) to its end. Dispatches without a
// barrier between them may overlap, so per-dispatch times of independent
// dispatches are approximate; Total is exact.
type Timing struct {
	Label    string
	Duration time.Duration
}

// Timings returns the per-dispatch GPU times, in recorded order
// (Recorded), and the total of the last run. The program must have been created with Profile.
func (p *Program) Timings() ([]Timing, time.Duration, error) {
	if !p.profile {
		return nil, 0, errors.New("program " + p.name + ": not profiled (ProgramOptions.Profile, and a queue with timestamps)")
	}
	if !p.recorded || p.inflight {
		return nil, 0, errors.New("program " + p.name + ": no finished run to time")
	}
	n := len(p.ds) + 1
	ts := make([]uint64, n)
	r := vk.GetQueryPoolResults(p.dev.vkDevice(), p.queries, 0, uint32(n), uint(8*n), unsafe.Pointer(&ts[0]), 8,
		vk.QueryResultFlags(vk.QueryResult64Bit|vk.QueryResultWaitBit))
	if err := check("vkGetQueryPoolResults", r); err != nil {
		return nil, 0, fmt.Errorf("program %s: %w", p.name, err)
	}
	mask := uint64(1)<<p.dev.info.TimestampValidBits - 1
	if p.dev.info.TimestampValidBits >= 64 {
		mask = ^uint64(0)
	}
	period := float64(p.dev.info.TimestampPeriodNs)
	ticks := func(a, b uint64) time.Duration {
		return time.Duration(float64((b-a)&mask) * period)
	}
	out := make([]Timing, len(p.rec))
	for i, s := range p.rec {
		out[i] = Timing{Label: p.ds[s.idx].Label, Duration: ticks(ts[i], ts[i+1])}
	}
	return out, ticks(ts[0], ts[n-1]), nil
}

// Close waits for a run in flight and destroys the program's Vulkan
// objects. Pipelines and buffers belong to the Device and stay.
func (p *Program) Close() {
	if p.inflight {
		_ = p.Wait(context.Background())
	}
	p.destroy()
	p.closed = true
	p.dev.mu.Lock()
	delete(p.dev.programs, p)
	p.dev.mu.Unlock()
}

func (p *Program) destroy() {
	d := p.dev
	if d.fns == nil {
		return
	}
	dev := d.vkDevice()
	if p.pool != vk.NullCommandPool {
		vk.DestroyCommandPool(dev, p.pool, nil) // frees its command buffers
		p.pool = vk.NullCommandPool
	}
	p.cbs = nil
	if p.dpool != nil {
		C.nfvk_destroy_descriptor_pool(d.fns, p.dpool)
		p.dpool = nil
	}
	if p.fence != vk.NullFence {
		vk.DestroyFence(dev, p.fence, nil)
		p.fence = vk.NullFence
	}
	if p.queries != vk.NullQueryPool {
		vk.DestroyQueryPool(dev, p.queries, nil)
		p.queries = vk.NullQueryPool
	}
	p.recorded = false
}
