package kernels

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nfvk/nfvk/engine"
)

// Every shader's host interface is declared once, in contracts: its
// storage-buffer bindings with the access its GLSL qualifiers allow, and
// its push-constant block. Two checks hold both sides to it:
//
//   - the shader's SPIR-V, reflected, must match it: when a kernel first
//     loads a shader (pipeline) and, for every embedded shader, in the
//     tests;
//   - every dispatch a kernel records goes through dispatch, which
//     checks the push-constant bytes and the bound spans against it.
//
// So a GLSL edit that moves a binding, drops readonly or adds a push
// constant fails loudly instead of reading stale push constants or
// hiding a write from the barrier scheduler.

// binding is one storage buffer of set 0; a contract's i-th binding is
// binding i.
type binding struct {
	name string // the buffer's role, for errors
	// access is what the GLSL allows: Read for readonly, Write for
	// writeonly, ReadWrite for neither.
	access engine.Access
}

// pushField is one member of a push-constant block. Every member is a
// 32-bit scalar, so std430 puts field i at byte 4*i.
type pushField struct {
	name string
	glsl string // "uint", "int" or "float"
}

// contract is the host side of one shader's interface.
type contract struct {
	bindings []binding
	push     []pushField
}

// pushBytes is the size of the push-constant block.
func (c contract) pushBytes() int { return 4 * len(c.push) }

// pushDecl spells the block as GLSL, for errors.
func (c contract) pushDecl() string {
	parts := make([]string, len(c.push))
	for i, f := range c.push {
		parts[i] = f.glsl + " " + f.name
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

func bindings(a engine.Access, names ...string) []binding {
	out := make([]binding, len(names))
	for i, n := range names {
		out[i] = binding{n, a}
	}
	return out
}

// ro, wo and rw declare consecutive readonly, writeonly and unqualified
// bindings.
func ro(names ...string) []binding { return bindings(engine.Read, names...) }
func wo(names ...string) []binding { return bindings(engine.Write, names...) }
func rw(names ...string) []binding { return bindings(engine.ReadWrite, names...) }

func fields(glsl string, names ...string) []pushField {
	out := make([]pushField, len(names))
	for i, n := range names {
		out[i] = pushField{n, glsl}
	}
	return out
}

// uints, ints and floats declare consecutive push-constant members.
func uints(names ...string) []pushField  { return fields("uint", names...) }
func ints(names ...string) []pushField   { return fields("int", names...) }
func floats(names ...string) []pushField { return fields("float", names...) }

// qualifier names an access as GLSL declares it.
func qualifier(a engine.Access) string {
	switch a {
	case engine.Read:
		return "readonly"
	case engine.Write:
		return "writeonly"
	case engine.ReadWrite:
		return "read-write"
	}
	return "neither read nor written"
}

// lookupContract returns the contract of shader name.
func lookupContract(name string) (contract, error) {
	// A float16-storage variant binds what its source binds.
	c, ok := contracts[sourceName(name)]
	if !ok {
		return contract{}, fmt.Errorf("shader %s has no contract (kernels/contract_table.go)", name)
	}
	return c, nil
}

// verify compares c with the reflected interface of shader name and
// returns every difference, each naming the shader and the binding or
// push-constant member.
func (c contract) verify(name string, m spvInterface) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("shader %s: "+format, append([]any{name}, args...)...))
	}
	seen := make([]bool, len(c.bindings))
	for _, b := range m.Bindings {
		switch {
		case b.Set != 0:
			bad("set %d binding %d: the pipeline layout has set 0 only", b.Set, b.Binding)
			continue
		case int(b.Binding) >= len(c.bindings):
			bad("binding %d (%s): in the SPIR-V, not in the contract", b.Binding, qualifier(b.Access))
			continue
		}
		d := c.bindings[b.Binding]
		seen[b.Binding] = true
		if !b.Storage {
			bad("binding %d (%s): not a storage buffer, the layout's only descriptor type", b.Binding, d.name)
		}
		if b.Access != d.access {
			bad("binding %d (%s): the SPIR-V has it %s, the contract %s", b.Binding, d.name, qualifier(b.Access), qualifier(d.access))
		}
	}
	for i, ok := range seen {
		if !ok {
			bad("binding %d (%s): in the contract, not in the SPIR-V", i, c.bindings[i].name)
		}
	}
	for i, f := range m.Push {
		if i >= len(c.push) {
			bad("push constant member %d (%s at byte %d): in the SPIR-V, not in the contract %s", i, f.Type, f.Offset, c.pushDecl())
			continue
		}
		d := c.push[i]
		if f.Type != d.glsl || f.Offset != 4*i {
			bad("push constant %s: the SPIR-V has %s at byte %d, the contract %s at byte %d", d.name, f.Type, f.Offset, d.glsl, 4*i)
		}
	}
	for _, d := range c.push[min(len(m.Push), len(c.push)):] {
		bad("push constant %s: in the contract, not in the SPIR-V", d.name)
	}
	if got := m.PushSize(); got != c.pushBytes() {
		bad("push constants: the SPIR-V block has %d bytes, the contract %s %d", got, c.pushDecl(), c.pushBytes())
	}
	if c.pushBytes() > engine.PushConstantBytes {
		bad("push constants: %d bytes, the pipeline layout has %d", c.pushBytes(), engine.PushConstantBytes)
	}
	return errors.Join(errs...)
}

// verifySPIRV checks the SPIR-V of shader name against its contract.
func verifySPIRV(name string, code []byte) error {
	c, err := lookupContract(name)
	if err != nil {
		return err
	}
	m, err := reflectSPIRV(code)
	if err != nil {
		return fmt.Errorf("shader %s: %w", name, err)
	}
	return c.verify(name, m)
}

// checkDispatch holds one dispatch of shader name against its contract:
// the push constants fill the block exactly, every binding gets a span,
// and each span's declared access covers what the qualifier guarantees
// the shader does (a readonly binding is read, a writeonly one written),
// so the barrier scheduler sees every access. A dispatch may declare
// more (an in-place span bound twice is read-write at both bindings);
// what an unqualified binding does depends on specialization and push
// constants, which only the kernel knows. A binding a variant leaves
// alone still gets a span with the qualifier's access: one the dispatch
// uses that way anyway (the synchronization validation counts what the
// qualifiers allow, not what runs).
func checkDispatch(name string, push []byte, args []engine.Arg) error {
	c, err := lookupContract(name)
	if err != nil {
		return err
	}
	if len(push) != c.pushBytes() {
		return fmt.Errorf("shader %s: %d bytes of push constants, its block %s has %d", name, len(push), c.pushDecl(), c.pushBytes())
	}
	if len(args) != len(c.bindings) {
		return fmt.Errorf("shader %s: %d buffers bound, it has %d bindings", name, len(args), len(c.bindings))
	}
	for i, b := range c.bindings {
		if b.access != engine.ReadWrite && args[i].Access&b.access != b.access {
			return fmt.Errorf("shader %s: binding %d (%s) is %s, the dispatch declares it %v", name, i, b.name, qualifier(b.access), args[i].Access)
		}
	}
	return nil
}

// dispatch records a dispatch of pipe after checkDispatch: every kernel
// records through here (a work planner logs it instead, with the work
// model's lane work: lanework.go).
func (k *Kernels) dispatch(p *engine.Program, label string, pipe *pipe, groups [3]uint32, push []byte, args ...engine.Arg) error {
	return k.dispatchWork(p, label, pipe, groups, push, -1, args...)
}

// dispatchWork is dispatch with the lane work given by the kernel, for
// shaders whose loops depend on more than their push constants (-1: the
// work model's).
func (k *Kernels) dispatchWork(p *engine.Program, label string, pipe *pipe, groups [3]uint32, push []byte, iters int, args ...engine.Arg) error {
	if err := checkDispatch(pipe.shader, push, args); err != nil {
		return fmt.Errorf("dispatch %s: %w", label, err)
	}
	if k.work == nil {
		return p.Dispatch(label, pipe.vk, groups, push, args...)
	}
	if iters < 0 {
		var err error
		if iters, err = laneIters(pipe.shader, pipe.spec, groups, push, int(k.dev.Info().SubgroupSize)); err != nil {
			return fmt.Errorf("dispatch %s: %w", label, err)
		}
	}
	k.mu.Lock()
	*k.work = append(*k.work, LaneWork{Dispatch: label, Shader: pipe.shader, Groups: groups, Iters: iters})
	k.mu.Unlock()
	return nil
}
