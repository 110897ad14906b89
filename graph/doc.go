// Package graph is nfvk's static tensor graph: the model-level half of the
// command-buffer scheduler. A training step is built once as a Graph of
// typed nodes, differentiated (Gradients), planned (PlanMemory), lowered
// into one engine.Program that is recorded once (Compile) and replayed
// every step (GPU.Step): per step the host only uploads the batch and the
// per-step scalars (seed, learning rate) and submits.
//
// # Building
//
// Tensors have a static shape, a dtype and a role (input, parameter,
// activation, constant, gradient, optimizer state). Ops are added through
// Graph methods (Conv2D, WS, Act, AvgPool2x2, GlobalMean, Linear, SEGate,
// Add, Mul, Scale, Residual, DropPath, Dropout, SoftmaxCE, Top1Correct,
// Sum, Mean) that
// infer and check shapes when the node is added and return errors naming
// the op and the shapes; nothing is deferred to execution. SGD and
// SGDRate append in-place parameter updates.
//
// # Adding an op
//
// An op is a small value implementing the op interface (graph.go): shape
// inference, a CPU forward in float32 and float64 built on kernels/ref,
// its gradient rule as graph construction (reverse mode builds ordinary
// backward nodes, so the backward pass is planned, lowered and checked like
// the forward one), and its GPU lowering onto package kernels. An op whose
// GPU kernel has not landed lowers to ErrNoKernel: Compile fails with
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
// lowest free offset); parameters, gradients, inputs, constants, optimizer
// state and kept tensors have their own buffers. Nodes nothing persistent
// depends on are dead and pruned.
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
// gradient checks, float32 to compare against the GPU). GPU runs a
// compiled graph; CompileOptions.After appends extra dispatches (an
// optimizer written as kernels) that work on the persistent tensors'
// memory. Neither is safe for concurrent use.
//
// # Arrows
//
// graph imports engine, kernels and kernels/ref; it never imports nfnet,
// train or cmd (models are built on top of it, not inside it).
package graph
