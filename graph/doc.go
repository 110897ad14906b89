// Package graph is nfvk's static tensor graph: the model-level half of the
// command-buffer scheduler. A training step is built once as a Graph of
// typed nodes, differentiated (Gradients), planned (PlanMemory) and
// lowered onto a Backend (Lower); package graph/gpu implements the
// Backend with Vulkan kernels, records the step once and replays it every
// step: per step the host only uploads the batch and the step's values
// (learning rate, EMA decay, seed) and submits. The graph core imports no
// GPU API, so models built on it (package nfnet) compile without one.
//
// # Building
//
// Tensors have a static shape, a dtype and a role (input, parameter,
// activation, constant, gradient, optimizer state). Ops are added through
// Graph methods (Conv2D, WS, Act, AvgPool2x2, GlobalMean, Linear, SEGate,
// Add, Mul, Scale, Residual, DropPath, Dropout, SoftmaxCE, SoftmaxCESoft,
// Top1Correct, Sum, Mean) that
// infer and check shapes when the node is added and return errors naming
// the op and the shapes; nothing is deferred to execution. Optimizer (the
// fused AGC + weight decay + momentum SGD of NFNets), EMA (the weight
// average), SGD and SGDRate append in-place updates; Optimizer and EMA
// read the step's values from a small input tensor (agc.Hyper's
// encoding), so a schedule never re-records the step.
//
// # Adding an op
//
// An op is a small value implementing the op interface (graph.go): shape
// inference, a CPU forward in float32 and float64 built on kernels/ref,
// its gradient rule as graph construction (reverse mode builds ordinary
// backward nodes, so the backward pass is planned, lowered and checked like
// the forward one), and its lowering onto the Backend interface (one
// method per kernel, operands as planned memory, Mem). An op whose GPU
// kernel has not landed lowers to ErrNoKernel: Lower fails with
// "graph: op X has no GPU kernel yet", never a silent CPU fallback.
// Optional interfaces: scratcher (GPU scratch memory, planned like a
// temporary) and inPlacer (the output may reuse a dying input).
//
// # Autodiff
//
// Gradients(loss, params) seeds the scalar loss with 1 and walks the nodes
// in reverse, calling each op's grad rule for the inputs that depend on a
// parameter; where a tensor is used more than once (the residual shortcut,
// the SE input) its contributions are summed. VJP does the same from
// given output gradients.
//
// # Memory
//
// PlanMemory gives every activation and temporary an aligned offset in
// one arena from the live ranges over the execution order (largest first,
// lowest free offset); parameters, gradients, optimizer state and
// averages share one pool buffer per role (so a multi-tensor kernel binds
// a role as one range), and inputs, constants and kept tensors have their
// own buffers (Plan.Buffers, Plan.Mem). Nodes nothing persistent depends
// on are dead and pruned.
//
// # Fusion
//
// Only where a whole pass over memory goes away: conv bias in the conv
// kernel; DropPath's mask applied by the Residual kernel (the separate
// application is pruned); act(x)*c as one activation with gamma*c (the
// NFNet block input act(x)*beta); gradient accumulation in place, one
// pass instead of a copy and an add (BenchmarkGraphFusion, lavapipe,
// [8,256,16,16]: 3.5 -> 1.9 ms and 3.5 -> 1.2 ms). The conv backward recomputes the
// standardized weights instead of keeping the forward's copy alive, which
// takes a parameter-sized tensor off the peak (BenchmarkMemoryPlan: F0 at
// 64 px, batch 8, 259 -> 99 MiB) for one WS pass per conv (3-6% of that
// step on lavapipe, less at larger images); SetRecomputeWS(false) keeps
// the forward's copy instead. Linear runs on GEMM, bias included.
//
// # Executors
//
// CPU[T] runs any graph with the references (float64 for finite-difference
// gradient checks, float32 to compare against the GPU); gpu.Executable
// runs a compiled graph on a device. Neither is safe for concurrent use.
//
// # Arrows
//
// graph imports agc and kernels/ref (pure Go references) and no GPU API;
// graph/gpu adds engine and kernels. Neither imports nfnet, train or cmd
// (models are built on top of them, not inside them).
package graph
