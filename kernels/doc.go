// Package kernels is nfvk's library of GPU compute kernels. Each kernel
// family lives in one file (its shader names, geometry and the Go API
// that records it into an engine.Program) and has a Go CPU reference in
// package kernels/ref that the tests compare it with on lavapipe.
//
// Conventions: tensors are float32, activations NCHW, weights OIHW, GEMM
// row-major; a tensor is an engine.Span (a byte range of a device
// buffer) and its element count is Span.Size/4. Kernel functions only
// record: nothing runs until the program is submitted. Bad shapes are
// rejected with an error naming the op and the shapes before anything is
// recorded. Spans larger than the device's maxStorageBufferRange are
// split into several dispatches where the kernel allows it.
//
// Tile sizes and workgroup sizes are specialization constants chosen per
// device class (see Tuning), so the same shader serves lavapipe's 8-wide
// subgroups and a discrete GPU's 32/64-wide ones. Arrays whose used
// length depends on them are declared at compile-time maxima
// (shaders/include/limits.glsl, mirrored in limits.go), since MoltenVK
// cannot size arrays from specialization constants; every pipeline's
// specialization is checked against them. For the GPU classes, plans keep
// the loop iterations of one invocation in one dispatch within
// Tuning.LaneBudget (work.go), far from a driver watchdog; a work planner
// checks the plans of a whole step without recording it.
//
// Every shader's bindings (with their readonly/writeonly access) and
// push-constant block are declared once, in contract_table.go. A shader's
// SPIR-V is checked against its declaration when it is first loaded (and
// for every embedded shader in the tests), and every dispatch against it
// when it is recorded (contract.go).
package kernels
