// Package engine is nfvk's Vulkan layer and the only package that
// touches Vulkan (through github.com/vulkan-go/vulkan and a small C shim
// it owns, shim.c, for what the binding lacks and for the per-step hot
// path).
//
// A Device is one opened physical device with one queue, from a
// compute-only family where the device has one (AMD, NVIDIA: training
// then does not compete with the desktop's graphics queue), else a
// graphics+compute family:
//
//   - Open loads the runtime Vulkan loader itself (libvulkan.so.1,
//     vulkan-1.dll, or on macOS libvulkan.1.dylib, else MoltenVK; users
//     need no SDK), lists devices (Devices) and picks one by Options.Device or
//     $NFVK_DEVICE (an index or a name substring), else discrete >
//     integrated > virtual > CPU.
//   - Memory comes from an arena: a few large VkDeviceMemory blocks, each
//     bound to one VkBuffer, sub-allocated with offsets aligned to
//     minStorageBufferOffsetAlignment, no block larger than
//     maxMemoryAllocationSize or maxBufferSize. Memory types are chosen
//     from ordered lists of property sets (DeviceInfo.Memory):
//     device-local and host-visible when that heap is the device's main
//     memory (lavapipe, integrated GPUs, ReBAR), else device-local, else
//     host-visible; an allocation that fails for lack of memory tries the
//     next type. Mapped buffers are written in place; others go through
//     a staging buffer. Reads go through host-cached staging unless the
//     buffer's own memory is host-cached (uncached reads over PCIe, and
//     from ReBAR memory, are slow).
//   - Pipelines are built from SPIR-V (package shaders) with
//     specialization constants (constant_id i = spec[i]) and cached per
//     (shader, constants), backed by a VkPipelineCache that
//     Options.PipelineCachePath (or PipelineCacheDir, one file per
//     device) persists. Every pipeline shares one
//     layout: MaxBindings storage buffers and 128 bytes of push constants.
//   - A Program is a list of dispatches, each declaring the buffer ranges
//     it reads and writes. The recorder puts a barrier before a dispatch
//     only when it depends on an earlier one (read-after-write,
//     write-after-read, write-after-write on overlapping bytes), records
//     once into command buffers, splits long programs into several
//     submits (driver watchdogs), and is replayed by Run as often as
//     needed. Per-run values live in buffers the host rewrites.
//   - ProgramOptions.Profile writes a GPU timestamp after each dispatch
//     (Program.Timings).
//   - Options.Validate or $NFVK_VALIDATE=1 enables the Khronos validation
//     layer (with synchronization validation); ValidationMessages returns
//     what it reported.
//
// Debug options make lavapipe find the bugs a real GPU would show first.
// Each is an Options field and an environment variable, so a whole test
// suite runs with them unchanged:
//
//   - $NFVK_SHUFFLE_DISPATCH=<seed> (Options.ShuffleDispatch): Record
//     writes each program's dispatches in a random order, fixed by the
//     seed, that keeps every declared dependency, and places barriers
//     anew. lavapipe runs dispatches in recorded order, so a dependency
//     the declared ranges miss is invisible there; shuffled, it puts a
//     consumer before its producer and the result is wrong.
//   - $NFVK_FORCE_STAGING=1 (Options.DisableUnifiedMemory): treat the
//     device as discrete: tensors are never mapped, every upload and read
//     goes through staging copies.
//   - $NFVK_VALIDATE=gpu (Options.GPUAssistedValidation): the validation
//     layer also instruments shaders and reports out-of-bounds buffer
//     accesses. The layer (1.3.239) bounds an access by the size of the
//     VkBuffer, not of the bound range, so in this mode every Buffer gets
//     a block of its own: an overrun past a Buffer is caught, one inside
//     it (past a Span.Sub) is not.
//   - $NFVK_LIMITS (Options.Limits, ParseLimits): lower the device's
//     limits, e.g. "small" (SmallGPULimits: 256-byte alignment, a 256
//     MiB allocation cap, 32 KiB shared memory, 256 invocations per
//     workgroup), to run a smaller GPU's code paths.
//   - Every failing call returns an *Error naming the call and the
//     VkResult; errors.Is(err, ErrDeviceLost) and ErrOutOfDeviceMemory
//     tell the failures a caller handles differently. Close destroys
//     every object.
//
// Facts about lavapipe (Mesa's CPU driver) that shaped this design: about
// 35 µs per dispatch and 65 µs per submit even when empty (record once,
// fuse, batch dispatches per submit); one memory type that is device-local
// and host-visible; and a cap of 65535 iterations per shader loop per
// invocation (gallivm's loop limit), past which loops exit early and
// results are silently wrong: kernels keep every loop under it.
package engine
