// Package engine is nfvk's Vulkan layer and the only package that
// touches Vulkan (through github.com/vulkan-go/vulkan and a small C shim
// it owns, shim.c, for what the binding lacks and for the per-step hot
// path).
//
// A Device is one opened physical device with one compute queue:
//
//   - Open loads the runtime Vulkan loader itself (libvulkan.so.1,
//     vulkan-1.dll, or on macOS libvulkan.1.dylib, else MoltenVK; users
//     need no SDK), lists devices (Devices) and picks one by Options.Device or
//     $NFVK_DEVICE (an index or a name substring), else discrete >
//     integrated > virtual > CPU.
//   - Memory comes from an arena: a few large VkDeviceMemory blocks, each
//     bound to one VkBuffer, sub-allocated with offsets aligned to
//     minStorageBufferOffsetAlignment. On unified memory (lavapipe,
//     integrated GPUs) buffers are mapped and Upload/Download are plain
//     copies; elsewhere they go through a staging buffer.
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
