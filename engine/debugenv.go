package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Debug options read from the environment, so that a whole test suite can
// run a real GPU's code paths on lavapipe without any test knowing:
//
//	NFVK_VALIDATE=1        validation layer and synchronization validation
//	NFVK_VALIDATE=gpu      the same plus GPU-assisted validation
//	NFVK_SHUFFLE_DISPATCH=<seed>  record dispatches in a shuffled valid order
//	NFVK_FORCE_STAGING=1   treat the device as discrete: staged copies only
//	NFVK_LIMITS=<list>     lower device limits, e.g. "align=256,alloc=256M"
//
// An option set in Options wins over its variable.

// applyEnv fills the options left at their zero value from the
// environment; a malformed value is an error naming the variable.
func (o *Options) applyEnv() error {
	if o.Device == "" {
		o.Device = os.Getenv("NFVK_DEVICE")
	}
	switch v := os.Getenv("NFVK_VALIDATE"); v {
	case "", "0":
	case "1":
		o.Validate = true
	case "gpu":
		o.Validate, o.GPUAssistedValidation = true, true
	default:
		return fmt.Errorf("NFVK_VALIDATE=%q: want 1 or gpu", v)
	}
	if v := os.Getenv("NFVK_SHUFFLE_DISPATCH"); v != "" && o.ShuffleDispatch == 0 {
		seed, err := strconv.ParseInt(v, 10, 64)
		if err != nil || seed < 0 {
			return fmt.Errorf("NFVK_SHUFFLE_DISPATCH=%q: want a seed, a positive integer (0 is off)", v)
		}
		o.ShuffleDispatch = seed
	}
	switch v := os.Getenv("NFVK_FORCE_STAGING"); v {
	case "", "0":
	case "1":
		o.DisableUnifiedMemory = true
	default:
		return fmt.Errorf("NFVK_FORCE_STAGING=%q: want 1 or 0", v)
	}
	if v := os.Getenv("NFVK_LIMITS"); v != "" && o.Limits == (Limits{}) {
		l, err := ParseLimits(v)
		if err != nil {
			return fmt.Errorf("NFVK_LIMITS: %w", err)
		}
		o.Limits = l
	}
	return nil
}

// Limits lowers device limits below what the device reports, so that
// the code paths of a smaller GPU run on a large one (tests on lavapipe).
// Zero fields keep the device's value; a value above the device's is
// ignored.
type Limits struct {
	// MinStorageBufferOffsetAlignment raises the offset alignment (bytes,
	// a power of two: up to 256 on real GPUs, 16 on lavapipe).
	MinStorageBufferOffsetAlignment uint64
	// MaxMemoryAllocationSize caps one VkDeviceMemory allocation (and one
	// VkBuffer) in bytes.
	MaxMemoryAllocationSize uint64
	// SharedMemoryBytes caps maxComputeSharedMemorySize.
	SharedMemoryBytes uint32
	// MaxWorkgroupInvocations caps maxComputeWorkGroupInvocations (and
	// each dimension of maxComputeWorkGroupSize).
	MaxWorkgroupInvocations uint32
}

// SmallGPULimits are the limits of a modest real GPU, lower than
// lavapipe's: 256-byte alignment, a 256 MiB allocation cap, 32 KiB of
// shared memory and 256 invocations per workgroup.
var SmallGPULimits = Limits{
	MinStorageBufferOffsetAlignment: 256,
	MaxMemoryAllocationSize:         256 << 20,
	SharedMemoryBytes:               32 << 10,
	MaxWorkgroupInvocations:         256,
}

// ParseLimits reads a comma-separated list of key=value: align, alloc,
// shared and invocs (sizes take a K, M or G suffix), or "small" for
// SmallGPULimits.
func ParseLimits(s string) (Limits, error) {
	var l Limits
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "small" {
			l = SmallGPULimits
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		n, err := parseSize(v)
		if !ok || err != nil || n == 0 {
			return Limits{}, fmt.Errorf("%q: want key=size with key align, alloc, shared or invocs (e.g. alloc=256M), or small", f)
		}
		switch k {
		case "align":
			if n&(n-1) != 0 {
				return Limits{}, fmt.Errorf("%q: alignment must be a power of two", f)
			}
			l.MinStorageBufferOffsetAlignment = n
		case "alloc":
			l.MaxMemoryAllocationSize = n
		case "shared":
			l.SharedMemoryBytes = uint32(min(n, 1<<31))
		case "invocs":
			l.MaxWorkgroupInvocations = uint32(min(n, 1<<31))
		default:
			return Limits{}, fmt.Errorf("%q: unknown limit %q (align, alloc, shared, invocs)", f, k)
		}
	}
	return l, nil
}

func parseSize(v string) (uint64, error) {
	mul := uint64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mul, v = 1<<10, strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mul, v = 1<<20, strings.TrimSuffix(v, "M")
	case strings.HasSuffix(v, "G"):
		mul, v = 1<<30, strings.TrimSuffix(v, "G")
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n * mul, err
}

// apply lowers info's limits to l's.
func (l Limits) apply(info *DeviceInfo) {
	if a := l.MinStorageBufferOffsetAlignment; a > info.MinStorageBufferOffsetAlignment {
		info.MinStorageBufferOffsetAlignment = a
	}
	if c := l.MaxMemoryAllocationSize; c > 0 && (info.MaxMemoryAllocationSize == 0 || c < info.MaxMemoryAllocationSize) {
		info.MaxMemoryAllocationSize = c
	}
	if c := l.MaxMemoryAllocationSize; c > 0 && (info.MaxBufferSize == 0 || c < info.MaxBufferSize) {
		info.MaxBufferSize = c
	}
	if c := l.SharedMemoryBytes; c > 0 && c < info.SharedMemoryBytes {
		info.SharedMemoryBytes = c
	}
	if c := l.MaxWorkgroupInvocations; c > 0 && c < info.MaxWorkgroupInvocs {
		info.MaxWorkgroupInvocs = c
		for i := range info.MaxWorkgroupSize {
			info.MaxWorkgroupSize[i] = min(info.MaxWorkgroupSize[i], c)
		}
	}
}
