package train

import (
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
)

// ErrBufferTooLarge is wrapped by the error of a run with one tensor (or
// one node's workspace) larger than the device allows in one buffer.
var ErrBufferTooLarge = errors.New("larger than the device allows in one buffer")

// bufferLimit is the largest buffer the device allows a kernel to bind
// and allocate, with the limit that sets it.
type bufferLimit struct {
	bytes int64
	what  string
}

// bufferLimits are the per-buffer limits of a device: every tensor is
// bound whole by some kernel (maxStorageBufferRange) and lives in one
// VkBuffer of one allocation (maxBufferSize, maxMemoryAllocationSize, as
// lowered by Options.Limits); the pools and the arena are split across
// buffers, never a tensor.
func bufferLimits(info engine.DeviceInfo) []bufferLimit {
	var out []bufferLimit
	add := func(n uint64, what string) {
		if n > 0 {
			out = append(out, bufferLimit{int64(min(n, 1<<62)), what})
		}
	}
	add(uint64(info.MaxStorageBufferRange), "per storage buffer (maxStorageBufferRange)")
	add(info.MaxBufferSize, "per buffer (maxBufferSize)")
	add(info.MaxMemoryAllocationSize, "per allocation (maxMemoryAllocationSize)")
	return out
}

// checkBuffers refuses a graph whose largest live tensor or node
// workspace exceeds a per-buffer limit, naming it, its size and the
// smallest limit it exceeds. Planning cannot say which tensor is too
// large, and Compile would find it only after allocating the rest.
func checkBuffers(g *graph.Graph, p *graph.Plan, dev *engine.Device) error {
	limits := bufferLimits(dev.Info())
	check := func(size int64, what string) error {
		var worst *bufferLimit
		for i, l := range limits {
			if size > l.bytes && (worst == nil || l.bytes < worst.bytes) {
				worst = &limits[i]
			}
		}
		if worst == nil {
			return nil
		}
		return fmt.Errorf("train: needs a %s buffer for %s; device %s allows %s %s: use a smaller batch, image size or layer: %w",
			bytesize(size), what, dev.Info().Name, bytesize(worst.bytes), worst.what, ErrBufferTooLarge)
	}
	var big *graph.Tensor
	for _, t := range g.Tensors() {
		if !p.Mem[t.ID()].Absent() && (big == nil || t.Bytes() > big.Bytes()) {
			big = t
		}
	}
	if big != nil {
		if err := check(big.Bytes(), fmt.Sprintf("%s %v", big.Name(), big.Shape())); err != nil {
			return err
		}
	}
	for _, n := range g.Nodes() {
		s := p.Scratch[n.ID()]
		if s == 0 {
			continue
		}
		what := "the workspace of " + n.Op()
		if outs := n.Outputs(); len(outs) > 0 && outs[0] != nil {
			what += " (" + outs[0].Name() + ")"
		}
		if err := check(s, what); err != nil {
			return err
		}
	}
	return nil
}
