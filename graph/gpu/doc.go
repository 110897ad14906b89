// Package gpu compiles a graph for a Vulkan device: it implements
// graph.Backend on package kernels, allocates the buffers of the memory
// plan, lowers every node into one engine.Program recorded once, and
// replays it (Executable.Step): per step the host only uploads the inputs
// (the batch, the step's values) and the seed, and submits.
//
// It is the only part of the graph layer that touches a GPU: the graph
// core (building, autodiff, planning, CPU execution) and the models built
// on it compile without it.
package gpu
