package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/shaders"
)

// Kernels records kernels for one device. Safe for concurrent use.
type Kernels struct {
	dev  *engine.Device
	tune Tuning

	mu      sync.Mutex
	shaders map[string]*engine.Shader
	// work, when set, makes these kernels a work planner (WorkPlanner):
	// dispatches are logged here instead of recorded.
	work *[]LaneWork
	// tuned holds per-shape choices measured on the device (WithTable);
	// shapes, when set, logs the shapes recorded (tune.go).
	tuned  *tunedMaps
	shapes *Shapes
}

// pipe is a pipeline with the specialization it was built with (the work
// model reads it); vk is nil in a work planner, which builds none.
type pipe struct {
	shader string
	spec   []uint32
	vk     *engine.Pipeline
}

// New returns the kernel library for dev, tuned for its device class.
func New(dev *engine.Device) *Kernels {
	return &Kernels{dev: dev, tune: TuningFor(dev.Info()), shaders: map[string]*engine.Shader{}}
}

// Device is the device the kernels record for.
func (k *Kernels) Device() *engine.Device { return k.dev }

// Tuning is the tuning table entry in use.
func (k *Kernels) Tuning() Tuning { return k.tune }

// pipeline returns the pipeline of shader name with spec constants, which
// must keep its arrays within their compile-time maxima (checkSpec).
func (k *Kernels) pipeline(name string, spec ...uint32) (*pipe, error) {
	if err := checkSpec(name, spec); err != nil {
		return nil, err
	}
	pp := &pipe{shader: name, spec: spec}
	k.mu.Lock()
	s, ok := k.shaders[name]
	if !ok {
		code, err := shaders.SPIRV(name)
		if err == nil {
			// Once per shader: its SPIR-V must still match its contract.
			err = verifySPIRV(name, code)
		}
		if err != nil {
			k.mu.Unlock()
			return nil, err
		}
		s = &engine.Shader{Name: name, SPIRV: code}
		k.shaders[name] = s
	}
	k.mu.Unlock()
	if k.work != nil {
		return pp, nil
	}
	var err error
	pp.vk, err = k.dev.Pipeline(s, spec...)
	return pp, err
}

// Tuning holds the per-device-class choices of workgroup and tile sizes.
type Tuning struct {
	Class string // "cpu" (lavapipe, SwiftShader), "nvidia", "amd", "intel", "generic"
	// ElementwiseLocal is the workgroup size of elementwise kernels.
	ElementwiseLocal uint32
	// ElementwiseMaxGroups bounds elementwise grids (grid-stride loops).
	ElementwiseMaxGroups uint32
	// ReduceLocal is the workgroup size (a power of two) of reductions.
	ReduceLocal uint32
	// GEMM tile configuration (see gemm.go).
	GEMM GEMMTile
	// LaneBudget bounds the serial loop iterations of one invocation in
	// one dispatch (0: no bound): longer reductions split into more
	// dispatches, so that no dispatch runs long enough on one lane to
	// trip a driver's watchdog (Windows TDR: 2 s). See work.go.
	LaneBudget int
}

// TuningFor picks the tuning table entry for a device: lavapipe is one
// entry of the table, not the only target.
func TuningFor(info engine.DeviceInfo) Tuning {
	t := Tuning{Class: "generic", ElementwiseLocal: 256, ElementwiseMaxGroups: 4096, ReduceLocal: 256, GEMM: gemmTileGPU,
		LaneBudget: LaneBudgetGPU}
	switch {
	case info.IsCPU():
		// lavapipe: small workgroups, many of them (its threads pick up
		// whole workgroups; measured best for copy); barrier() is costly,
		// so reductions use small groups. No lane budget: no watchdog
		// (the driver's own loop limit still holds, convLoopLimit).
		t = Tuning{Class: "cpu", ElementwiseLocal: 64, ElementwiseMaxGroups: 16384, ReduceLocal: 64, GEMM: gemmTileCPU}
	case info.VendorID == 0x10DE:
		t.Class = "nvidia"
	case info.VendorID == 0x1002:
		t.Class = "amd"
	case info.VendorID == 0x8086:
		t.Class = "intel"
	}
	if t.ElementwiseLocal > info.MaxWorkgroupInvocs {
		t.ElementwiseLocal = info.MaxWorkgroupInvocs
	}
	for t.ReduceLocal > info.MaxWorkgroupInvocs {
		t.ReduceLocal /= 2
	}
	return t
}

// pushBuf builds push-constant blocks: uint32 and float32 fields, std430.
type pushBuf []byte

func (p pushBuf) u(v uint32) pushBuf  { return binary.LittleEndian.AppendUint32(p, v) }
func (p pushBuf) i(v int) pushBuf     { return p.u(uint32(v)) }
func (p pushBuf) f(v float32) pushBuf { return p.u(math.Float32bits(v)) }

// elems is the float32 element count of s, or an error naming op.
func elems(op, name string, s engine.Span) (int, error) {
	if s.Buf == nil {
		return 0, fmt.Errorf("%s: %s has no buffer", op, name)
	}
	if s.Size <= 0 || s.Size%4 != 0 {
		return 0, fmt.Errorf("%s: %s spans %d bytes, not a positive number of float32", op, name, s.Size)
	}
	if s.Size/4 > math.MaxUint32 {
		return 0, fmt.Errorf("%s: %s has %d elements, more than 2^32-1", op, name, s.Size/4)
	}
	return int(s.Size / 4), nil
}

// needElems checks that s holds at least n float32.
func needElems(op, name string, s engine.Span, n int) error {
	got, err := elems(op, name, s)
	if err != nil {
		return err
	}
	if got < n {
		return fmt.Errorf("%s: %s holds %d elements, needs %d", op, name, got, n)
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
