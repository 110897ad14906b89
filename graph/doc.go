// Package graph is nfvk's static tensor graph: the model-level half of the
// command-buffer scheduler. A training step is built once as a Graph of
// typed nodes, differentiated (Gradients), planned (PlanMemory), lowered
// into one engine.Program that is recorded once (Compile) and replayed
// every step (GPU.Step): per step the host only uploads the batch and the
// per-step scalars and submits.
//
// # Building
//
// Tensors have a static shape, a dtype and a role (input, parameter,
// activation, constant, gradient, optimizer state). Ops are added through
// Graph methods (Conv2D, WS, Act, AvgPool2x2, GlobalMean, Linear, SEGate,
// Add, Mul, Scale, Residual, DropPath, Dropout, SoftmaxCE, Sum, Mean) that
// infer and check shapes when the node is added and return errors naming
// the op and the shapes; nothing is deferred to execution.
//
// # Adding an op
//
// An op is a small value implementing the op interface (graph.go): shape
// inference, a CPU forward in float32 and float64 built on kernels/ref,
// its gradient rule as graph construction (reverse mode builds ordinary
// backward nodes, so the backward pass is planned, lowered and checked like
// the forward one), and its GPU lowering onto package kernels. An op whose
// GPU kernel has not landed yet lowers to ErrNoKernel: Compile fails with
// "graph: op X has no GPU kernel yet", never a silent CPU fallback.
//
// # Executors
//
// CPU[T] runs any graph with the references (float64 for finite-difference
// gradient checks, float32 to compare against the GPU). GPU runs a compiled
// graph: parameters, gradients, inputs, constants and optimizer state live
// in persistent buffers; every activation and temporary lives in one arena
// buffer at the offset the memory plan gave it (PlanMemory: liveness over
// the execution order, so tensors whose lifetimes do not overlap share
// memory).
//
// # Arrows
//
// graph imports engine, kernels and kernels/ref; it never imports nfnet,
// train or cmd (models are built on top of it, not inside it).
package graph
