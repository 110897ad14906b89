package graph

import (
	"errors"
	"fmt"
	"strings"
)

// DType is a tensor's element type.
type DType uint8

const (
	// Float32 is every activation, parameter and gradient.
	Float32 DType = iota
	// Int32 holds class labels. Executors take them as float32 class
	// indices (exact below 2^24) and the GPU executor uploads int32.
	Int32
	// Float16 is an activation stored in half precision (Precision FP16);
	// kernels convert to float32 on load and accumulate in float32.
	Float16
	// BFloat16 is an activation stored as bfloat16 (Precision BF16), the
	// high half of a float32, with the same conversions.
	BFloat16
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "f32"
	case Int32:
		return "i32"
	case Float16:
		return "f16"
	case BFloat16:
		return "bf16"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Role says where a tensor's value comes from and how long it lives.
type Role uint8

const (
	// Activation is computed by a node of the step and lives in the arena
	// (unless kept); intermediate gradients are activations too.
	Activation Role = iota
	// Input is fed by the host every step (a batch, labels).
	Input
	// Parameter is trained: persistent across steps.
	Parameter
	// Constant is set once (at Compile) and never written by the step.
	Constant
	// Gradient is the gradient of a parameter: persistent, written by the
	// backward pass and read by the optimizer.
	Gradient
	// OptimizerState is persistent optimizer memory (momentum buffers).
	OptimizerState
	// Average is a persistent average of a parameter (the weight EMA),
	// laid out like the parameters so one pass updates all of them.
	Average
)

var roleNames = [...]string{"activation", "input", "parameter", "constant", "gradient", "optimizer state", "average"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Shape is a tensor's dimensions, outermost first (NCHW, OIHW, [N, K]).
// The empty shape is a scalar of one element.
type Shape []int

// Size is the element count.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (s Shape) valid() bool {
	for _, d := range s {
		if d <= 0 {
			return false
		}
	}
	return true
}

// Tensor is a value of the graph: a leaf (input, parameter, constant,
// optimizer state) or an output of a node.
type Tensor struct {
	g     *Graph
	id    int
	name  string
	shape Shape
	dtype DType
	role  Role
	node  *Node // producer; nil for leaves
	// keep makes an activation persistent so it can be read after a step
	// (the loss, logits); gradients of parameters are always kept.
	keep bool
	// init is a constant's value.
	init []float32
}

// Graph is the graph t belongs to.
func (t *Tensor) Graph() *Graph { return t.g }

// ID is the tensor's index in its graph.
func (t *Tensor) ID() int { return t.id }

// Name is the tensor's name (given, or made from its op).
func (t *Tensor) Name() string { return t.name }

// Shape is the tensor's shape; do not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Role is where the value comes from.
func (t *Tensor) Role() Role { return t.role }

// Size is the element count.
func (t *Tensor) Size() int { return t.shape.Size() }

// Bytes is the tensor's size in bytes (DType.Size per element).
func (t *Tensor) Bytes() int64 { return t.dtype.Size() * int64(t.shape.Size()) }

// Init is a constant's value (nil for other tensors); do not modify it.
func (t *Tensor) Init() []float32 { return t.init }

// Node is the node that computes t, nil for a leaf.
func (t *Tensor) Node() *Node { return t.node }

// Persistent reports whether t lives outside the arena: every leaf,
// parameter gradients and kept tensors.
func (t *Tensor) Persistent() bool { return t.role != Activation || t.keep }

func (t *Tensor) String() string {
	return fmt.Sprintf("%s%v", t.name, t.shape)
}

// Node is one op applied to input tensors, producing output tensors.
// Nodes execute in the order they were added (a valid topological order:
// a node's inputs exist before it is added).
type Node struct {
	id    int
	phase int
	// store is Float16 or BFloat16 when the node runs its op's 16-bit
	// storage kernel, which stores its 16-bit slots in that type, else
	// Float32 (ApplyPrecision).
	store DType
	op    op
	ins   []*Tensor
	outs  []*Tensor
}

// Phase is the part of the step the node runs in (SetPhase).
func (n *Node) Phase() int { return n.phase }

// ID is the node's position in the execution order.
func (n *Node) ID() int { return n.id }

// Op is the op's name ("conv2d", "ws backward").
func (n *Node) Op() string { return n.op.name() }

// Inputs are the node's inputs (nil entries are absent optional inputs).
func (n *Node) Inputs() []*Tensor { return n.ins }

// Outputs are the node's outputs.
func (n *Node) Outputs() []*Tensor { return n.outs }

func (n *Node) String() string {
	ins := make([]string, len(n.ins))
	for i, t := range n.ins {
		if t == nil {
			ins[i] = "_"
		} else {
			ins[i] = t.String()
		}
	}
	return fmt.Sprintf("%s(%s)", n.op.name(), strings.Join(ins, ", "))
}

// Graph is a static graph of tensor ops. It is not safe for concurrent
// modification.
type Graph struct {
	tensors []*Tensor
	nodes   []*Node
	// streams counts random ops, each of which draws from its own Philox
	// stream so their masks are independent.
	streams uint64
	// keepWS keeps the forward's standardized weights alive for the conv
	// backward instead of recomputing them (SetRecomputeWS).
	keepWS bool
	// onesOf caches the constant vectors of ones Linear uses, by length.
	onesOf map[int]*Tensor
	// phase is the phase of the nodes added now; phases the count.
	phase, phases int
}

// SetPhase makes the nodes added from now on part of phase p (0 first).
// A step of several phases is recorded as one program per phase over the
// same memory, so the host can run them a different number of times:
// gradient accumulation runs the forward-backward phase per micro-batch
// and the update phase once. Phases must not go back: p >= the current.
func (g *Graph) SetPhase(p int) error {
	if p < g.phase {
		return fmt.Errorf("graph: phase %d after phase %d", p, g.phase)
	}
	g.phase = p
	return nil
}

// Phases is the number of phases: one more than the last node's phase (1
// for a graph that never called SetPhase).
func (g *Graph) Phases() int { return max(g.phases, 1) }

// New returns an empty graph.
func New() *Graph { return &Graph{} }

// SetRecomputeWS chooses, for gradients built afterwards, whether the
// conv backward recomputes the standardized weights (the default: one
// cheap pass over the weights keeps a parameter-sized tensor off the
// memory peak) or reuses the forward's copy (one WS pass less per conv,
// about 3-6% of an F0 step at 64 px on lavapipe, less at larger images).
func (g *Graph) SetRecomputeWS(on bool) { g.keepWS = !on }

// Nodes returns the nodes in execution order.
func (g *Graph) Nodes() []*Node { return g.nodes }

// Tensors returns every tensor, by ID.
func (g *Graph) Tensors() []*Tensor { return g.tensors }

func (g *Graph) newTensor(name string, shape Shape, dt DType, role Role) *Tensor {
	t := &Tensor{g: g, id: len(g.tensors), name: name, shape: append(Shape(nil), shape...), dtype: dt, role: role}
	g.tensors = append(g.tensors, t)
	return t
}

func (g *Graph) leaf(kind, name string, shape Shape, dt DType, role Role) (*Tensor, error) {
	if !shape.valid() {
		return nil, fmt.Errorf("graph: %s %q: shape %v has a non-positive dimension", kind, name, shape)
	}
	if name == "" {
		name = fmt.Sprintf("%s#%d", kind, len(g.tensors))
	}
	return g.newTensor(name, shape, dt, role), nil
}

// Input adds a float32 tensor fed by the host every step.
func (g *Graph) Input(name string, shape Shape) (*Tensor, error) {
	return g.leaf("input", name, shape, Float32, Input)
}

// Labels adds an int32 input of n class labels.
func (g *Graph) Labels(name string, n int) (*Tensor, error) {
	return g.leaf("labels", name, Shape{n}, Int32, Input)
}

// Param adds a trainable parameter.
func (g *Graph) Param(name string, shape Shape) (*Tensor, error) {
	return g.leaf("param", name, shape, Float32, Parameter)
}

// State adds a persistent optimizer-state tensor.
func (g *Graph) State(name string, shape Shape) (*Tensor, error) {
	return g.leaf("state", name, shape, Float32, OptimizerState)
}

// Average adds a persistent average of a parameter (the weight EMA).
// Adding one per parameter, in the parameters' order, gives the averages
// the parameters' memory layout.
func (g *Graph) Average(name string, shape Shape) (*Tensor, error) {
	return g.leaf("average", name, shape, Float32, Average)
}

// Constant adds a tensor with a fixed value (len(value) == shape.Size()).
func (g *Graph) Constant(name string, shape Shape, value []float32) (*Tensor, error) {
	t, err := g.leaf("const", name, shape, Float32, Constant)
	if err != nil {
		return nil, err
	}
	if len(value) != shape.Size() {
		return nil, fmt.Errorf("graph: constant %q%v: %d values, want %d", t.name, shape, len(value), shape.Size())
	}
	t.init = append([]float32(nil), value...)
	return t, nil
}

// Keep makes t persistent, so an executor can read it after a step.
func (g *Graph) Keep(ts ...*Tensor) {
	for _, t := range ts {
		t.keep = true
	}
}

// Params returns the parameters in the order they were added.
func (g *Graph) Params() []*Tensor {
	var ps []*Tensor
	for _, t := range g.tensors {
		if t.role == Parameter {
			ps = append(ps, t)
		}
	}
	return ps
}

// ErrNoKernel is wrapped by Compile when an op has no GPU kernel yet.
var ErrNoKernel = errors.New("no GPU kernel yet")

// op is one operation. Adding an op means implementing these methods;
// nothing else in the package switches on op types.
type op interface {
	// name is the op's name in errors and labels.
	name() string
	// infer checks the inputs and returns the output shapes and dtypes.
	// Errors need not name the op or the shapes: add wraps them.
	infer(ins []*Tensor) ([]Shape, error)
	// cpu32 and cpu64 compute the outputs from the inputs with the
	// kernels/ref references (most are two-line wrappers of one generic
	// function). Absent optional inputs are nil.
	cpu32(s *cpuStep, ins, outs [][]float32)
	cpu64(s *cpuStep, ins, outs [][]float64)
	// grad adds the nodes computing the gradient of each input whose need
	// is true from the output gradients douts (nil where none flows) and
	// returns them (nil for the others).
	grad(g *Graph, n *Node, douts []*Tensor, need []bool) ([]*Tensor, error)
	// lower records the node into the GPU program.
	lower(l *lowering, n *Node) error
}

// add appends a node of o over ins after inferring its outputs; errors
// name the op and the input shapes.
func (g *Graph) add(o op, ins ...*Tensor) (*Node, error) {
	for i, t := range ins {
		if t != nil && t.g != g {
			return nil, fmt.Errorf("graph: %s: input %d (%v) belongs to another graph", o.name(), i, t)
		}
	}
	shapes, err := o.infer(ins)
	if err != nil {
		return nil, fmt.Errorf("graph: %s(%s): %w", o.name(), describe(ins), err)
	}
	n := &Node{id: len(g.nodes), phase: g.phase, op: o, ins: ins}
	g.phases = max(g.phases, g.phase+1)
	for i, s := range shapes {
		if !s.valid() {
			return nil, fmt.Errorf("graph: %s(%s): output %d has shape %v", o.name(), describe(ins), i, s)
		}
		t := g.newTensor(fmt.Sprintf("%s#%d", strings.ReplaceAll(o.name(), " ", "_"), len(g.tensors)), s, Float32, Activation)
		t.node = n
		n.outs = append(n.outs, t)
	}
	g.nodes = append(g.nodes, n)
	return n, nil
}

// add1 adds a single-output node and returns its output.
func (g *Graph) add1(o op, ins ...*Tensor) (*Tensor, error) {
	n, err := g.add(o, ins...)
	if err != nil {
		return nil, err
	}
	return n.outs[0], nil
}

func describe(ts []*Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		if t == nil {
			parts[i] = "_"
		} else {
			parts[i] = t.String()
		}
	}
	return strings.Join(parts, ", ")
}

// needRank checks that t has rank r (named what in the error).
func needRank(what string, t *Tensor, r int) error {
	if t == nil {
		return fmt.Errorf("%s is missing", what)
	}
	if len(t.shape) != r {
		return fmt.Errorf("%s %v must have rank %d", what, t.shape, r)
	}
	if t.dtype != Float32 {
		return fmt.Errorf("%s must be f32, is %v", what, t.dtype)
	}
	return nil
}

// sameShape checks that b has a's shape.
func sameShape(a, b *Tensor) error {
	if a == nil || b == nil {
		return errors.New("missing input")
	}
	if !a.shape.Equal(b.shape) {
		return fmt.Errorf("shapes %v and %v differ", a.shape, b.shape)
	}
	if a.dtype != Float32 || b.dtype != Float32 {
		return fmt.Errorf("inputs must be f32, are %v and %v", a.dtype, b.dtype)
	}
	return nil
}

// nchw returns t's dims as an NCHW shape.
func nchw(t *Tensor) (n, c, h, w int) { return t.shape[0], t.shape[1], t.shape[2], t.shape[3] }

// String lists the nodes in execution order, one per line, with their
// outputs: "12 conv2d(x[8 3 64 64], ws#11[16 3 3 3], b[16]) -> conv2d#13[8 16 32 32]".
func (g *Graph) String() string {
	var sb strings.Builder
	for _, n := range g.nodes {
		fmt.Fprintf(&sb, "%d %v ->", n.id, n)
		for _, o := range n.outs {
			fmt.Fprintf(&sb, " %v", o)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
