package engine

import (
	"fmt"
	"slices"
)

// Access says how a dispatch uses a buffer range.
type Access uint8

const (
	Read      Access = 1 << iota // the shader reads the range
	Write                        // the shader writes the range
	ReadWrite = Read | Write
)

func (a Access) String() string {
	switch a {
	case Read:
		return "r"
	case Write:
		return "w"
	case ReadWrite:
		return "rw"
	}
	return "?"
}

// Arg binds a byte range of a buffer to one shader binding (binding i =
// the i-th Arg of a dispatch) and declares how the shader uses it. The
// declarations drive barrier placement, so they must be truthful.
type Arg struct {
	Span
	Access Access
}

// Span is a byte range of a buffer: what a tensor occupies.
type Span struct {
	Buf  *Buffer
	Off  int64 // byte offset in Buf
	Size int64 // bytes
}

// Span is the whole buffer.
func (b *Buffer) Span() Span { return Span{Buf: b, Size: b.size} }

// Sub narrows s to size bytes starting off bytes into it.
func (s Span) Sub(off, size int64) Span {
	s.Off += off
	s.Size = size
	return s
}

// Read, Write and ReadWrite bind the span with that access.
func (s Span) Read() Arg      { return Arg{s, Read} }
func (s Span) Write() Arg     { return Arg{s, Write} }
func (s Span) ReadWrite() Arg { return Arg{s, ReadWrite} }

// In binds all of b for reading.
func In(b *Buffer) Arg { return b.Span().Read() }

// Out binds all of b for writing.
func Out(b *Buffer) Arg { return b.Span().Write() }

// InOut binds all of b for reading and writing.
func InOut(b *Buffer) Arg { return b.Span().ReadWrite() }

// DispatchInfo is one recorded dispatch as the scheduler planned it.
type DispatchInfo struct {
	Label    string
	Pipeline string
	Groups   [3]uint32
	// BarrierBefore is true when the scheduler put a barrier before this
	// dispatch because it depends on an earlier one (RAW, WAR or WAW).
	BarrierBefore bool
	// Hazard names the dependency that caused the barrier ("RAW", ...).
	Hazard string
}

type dispatch struct {
	DispatchInfo
	pipe     *Pipeline
	push     []byte
	args     []Arg
	explicit bool // Program.Barrier was called before it
}

// region is a byte range of one arena block.
type region struct {
	block      int
	start, end int64
}

func (r region) overlaps(o region) bool {
	return r.block == o.block && r.start < o.end && o.start < r.end
}

// hazards tracks the ranges read and written since the last barrier; a
// dispatch needs a barrier when it reads what is pending-written (RAW) or
// writes what is pending-read (WAR) or pending-written (WAW). Independent
// dispatches then run without barriers between them.
type hazards struct {
	reads, writes []region
}

func (h *hazards) check(reads, writes []region) string {
	for _, r := range reads {
		for _, w := range h.writes {
			if r.overlaps(w) {
				return "RAW"
			}
		}
	}
	for _, w := range writes {
		for _, o := range h.writes {
			if w.overlaps(o) {
				return "WAW"
			}
		}
		for _, r := range h.reads {
			if w.overlaps(r) {
				return "WAR"
			}
		}
	}
	return ""
}

func (h *hazards) barrier() { h.reads, h.writes = h.reads[:0], h.writes[:0] }

func (h *hazards) add(reads, writes []region) {
	h.reads = append(h.reads, reads...)
	h.writes = append(h.writes, writes...)
}

// validateDispatch checks a dispatch against the device's limits before
// anything is recorded.
func (d *Device) validateDispatch(label string, pipe *Pipeline, groups [3]uint32, push []byte, args []Arg) error {
	if pipe == nil {
		return fmt.Errorf("dispatch %s: nil pipeline", label)
	}
	if len(args) > d.maxBind {
		return fmt.Errorf("dispatch %s (%s): %d buffers, the layout has %d bindings", label, pipe, len(args), d.maxBind)
	}
	if len(push) > PushConstantBytes || len(push)%4 != 0 || uint32(len(push)) > d.info.MaxPushConstantsSize {
		return fmt.Errorf("dispatch %s (%s): %d bytes of push constants, want a multiple of 4 up to %d", label, pipe, len(push), min(uint32(PushConstantBytes), d.info.MaxPushConstantsSize))
	}
	for i, g := range groups {
		if g == 0 || g > d.info.MaxWorkgroupCount[i] {
			return fmt.Errorf("dispatch %s (%s): workgroup count %v outside 1..%v", label, pipe, groups, d.info.MaxWorkgroupCount)
		}
	}
	for i, a := range args {
		if a.Buf == nil {
			return fmt.Errorf("dispatch %s (%s): binding %d has no buffer", label, pipe, i)
		}
		if err := a.Buf.checkRange(fmt.Sprintf("dispatch %s binding %d of", label, i), a.Off, a.Size); err != nil {
			return err
		}
		if a.Size == 0 || a.Access&ReadWrite == 0 {
			return fmt.Errorf("dispatch %s (%s): binding %d (%q) has size %d, access %v", label, pipe, i, a.Buf.name, a.Size, a.Access)
		}
		if uint64(a.Size) > uint64(d.info.MaxStorageBufferRange) {
			return fmt.Errorf("dispatch %s (%s): binding %d (%q) spans %d bytes, more than maxStorageBufferRange %d: split the dispatch",
				label, pipe, i, a.Buf.name, a.Size, d.info.MaxStorageBufferRange)
		}
		if uint64(a.Buf.off+a.Off)%d.info.MinStorageBufferOffsetAlignment != 0 {
			return fmt.Errorf("dispatch %s (%s): binding %d (%q) offset %d is not a multiple of minStorageBufferOffsetAlignment %d",
				label, pipe, i, a.Buf.name, a.Off, d.info.MinStorageBufferOffsetAlignment)
		}
	}
	return nil
}

// regions splits a dispatch's args into read and written block ranges.
func regions(args []Arg) (reads, writes []region) {
	for _, a := range args {
		r := region{a.Buf.blk.id, a.Buf.off + a.Off, a.Buf.off + a.Off + a.Size}
		if a.Access&Read != 0 {
			reads = append(reads, r)
		}
		if a.Access&Write != 0 {
			writes = append(writes, r)
		}
	}
	return reads, writes
}

// plan appends a validated dispatch, deciding its barrier.
func (p *Program) plan(label string, pipe *Pipeline, groups [3]uint32, push []byte, args []Arg) {
	reads, writes := regions(args)
	hz := p.hz.check(reads, writes)
	if hz != "" || p.forceBarrier {
		p.hz.barrier()
		if hz == "" {
			hz = "explicit"
		}
	}
	p.hz.add(reads, writes)
	p.ds = append(p.ds, dispatch{
		DispatchInfo: DispatchInfo{Label: label, Pipeline: pipe.String(), Groups: groups, BarrierBefore: hz != "", Hazard: hz},
		pipe:         pipe,
		push:         slices.Clone(push),
		args:         slices.Clone(args),
		explicit:     p.forceBarrier,
	})
	p.forceBarrier = false
}
