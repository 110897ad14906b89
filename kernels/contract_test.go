package kernels

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/spirv"
	"github.com/nfvk/nfvk/shaders"
)

// TestContractsMatchSPIRV holds every embedded shader against its
// contract, requires a shader for every contract, and rejects arrays
// sized by specialization constants.
func TestContractsMatchSPIRV(t *testing.T) {
	names := shaders.Names()
	if len(names) == 0 {
		t.Fatal("no embedded shaders")
	}
	for _, name := range names {
		code, err := shaders.SPIRV(name)
		if err != nil {
			t.Fatal(err)
		}
		// MoltenVK cannot size arrays from specialization constants
		// (tools/glslc refuses to build such a module; this catches one
		// committed without it).
		bad, err := spirv.SpecSizedArrays(code)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, b := range bad {
			t.Errorf("%s: %s", name, b)
		}
		if err := verifySPIRV(name, code); err != nil {
			t.Errorf("%v", err)
		}
	}
	for name := range contracts {
		if !slices.Contains(names, name) {
			t.Errorf("contract %s: no embedded shader of that name", name)
		}
	}
}

// TestReflectSPIRV pins what the reader sees in two known modules.
func TestReflectSPIRV(t *testing.T) {
	m := reflectShader(t, "optim_sgd")
	want := []engine.Access{engine.Read, engine.ReadWrite, engine.Read, engine.ReadWrite}
	if len(m.Bindings) != len(want) {
		t.Fatalf("optim_sgd: %d bindings, want %d", len(m.Bindings), len(want))
	}
	for i, b := range m.Bindings {
		if b.Set != 0 || b.Binding != uint32(i) || !b.Storage || b.Access != want[i] {
			t.Errorf("optim_sgd binding %d: %+v, want set 0 binding %d storage %v", i, b, i, want[i])
		}
	}
	if m.PushSize() != 28 {
		t.Errorf("optim_sgd push block: %d bytes, want 28", m.PushSize())
	}
	m = reflectShader(t, "pool")
	if m.Push[1].Type != "int" || m.Push[1].Offset != 4 || m.Push[0].Type != "uint" {
		t.Errorf("pool push block: %+v, want uint total then int H at byte 4", m.Push)
	}
	if _, err := reflectSPIRV([]byte{1, 2, 3, 4}); err == nil {
		t.Error("4 bytes reflected without error")
	}
	// The header and the first word of OpCapability Shader (2 words).
	code, _ := shaders.SPIRV("fill")
	if _, err := reflectSPIRV(code[:24]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated module: %v, want a truncation error", err)
	}
}

// TestContractCatchesShaderChange edits real modules the way a GLSL
// change would, one side only, and expects the check to name the shader
// and the binding or push-constant member.
func TestContractCatchesShaderChange(t *testing.T) {
	cases := []struct {
		name, shader string
		edit         func(t *testing.T, w []uint32) []uint32
		want         []string
	}{
		{"readonly dropped", "copy", dropAccessDecor(0, decNonWritable),
			[]string{"shader copy: binding 0 (x): the SPIR-V has it read-write, the contract readonly"}},
		{"writeonly dropped", "fill", dropAccessDecor(0, decNonReadable),
			[]string{"shader fill: binding 0 (y): the SPIR-V has it read-write, the contract writeonly"}},
		{"binding moved", "reduce_rows", setBinding(1, 5),
			[]string{"shader reduce_rows: binding 5 (writeonly): in the SPIR-V, not in the contract",
				"shader reduce_rows: binding 1 (o): in the contract, not in the SPIR-V"}},
		{"set changed", "reduce_rows", setDescriptorSet(0, 1),
			[]string{"shader reduce_rows: set 1 binding 0", "binding 0 (x): in the contract, not in the SPIR-V"}},
		{"push member type", "fill", setPushMemberType(1, 0),
			[]string{"shader fill: push constant value: the SPIR-V has uint at byte 4, the contract float at byte 4"}},
		{"push member offset", "axpby", setPushMemberOffset(2, 12),
			[]string{"shader axpby: push constant beta: the SPIR-V has float at byte 12, the contract float at byte 8",
				"shader axpby: push constants: the SPIR-V block has 16 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, err := shaders.SPIRV(c.shader)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifySPIRV(c.shader, code); err != nil {
				t.Fatalf("unedited module: %v", err)
			}
			w, err := spvWords(code)
			if err != nil {
				t.Fatal(err)
			}
			err = verifySPIRV(c.shader, spvBytes(c.edit(t, slices.Clone(w))))
			if err == nil {
				t.Fatal("edited module passes the check")
			}
			t.Logf("%v", err)
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

// TestCheckDispatch holds dispatches against a contract: push bytes,
// binding count and the access each qualifier guarantees.
func TestCheckDispatch(t *testing.T) {
	push := func(n int) []byte { return make([]byte, n) }
	args := func(as ...engine.Access) []engine.Arg {
		out := make([]engine.Arg, len(as))
		for i, a := range as {
			out[i].Access = a
		}
		return out
	}
	r, w, rw := engine.Read, engine.Write, engine.ReadWrite
	cases := []struct {
		name, shader string
		push         []byte
		args         []engine.Arg
		want         string // "" for no error
	}{
		{"ok", "copy", push(4), args(r, w), ""},
		{"in place over-declared", "axpby", push(12), args(rw, rw), ""},
		{"unqualified written only", "axpby", push(12), args(r, w), ""},
		{"short push", "axpby", push(8), args(r, rw), "shader axpby: 8 bytes of push constants, its block {uint n; float alpha; float beta} has 12"},
		{"long push", "copy", push(8), args(r, w), "shader copy: 8 bytes of push constants"},
		{"missing binding", "copy", push(4), args(r), "shader copy: 1 buffers bound, it has 2 bindings"},
		{"extra binding", "copy", push(4), args(r, w, r), "shader copy: 3 buffers bound, it has 2 bindings"},
		{"write hidden", "copy", push(4), args(r, r), "shader copy: binding 1 (y) is writeonly, the dispatch declares it r"},
		{"read hidden", "copy", push(4), args(w, w), "shader copy: binding 0 (x) is readonly, the dispatch declares it w"},
		{"no contract", "nonesuch", push(0), nil, "shader nonesuch has no contract"},
	}
	for _, c := range cases {
		err := checkDispatch(c.shader, c.push, c.args)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestDispatchChecksContract records through a kernel with a push block
// one field short: the dispatch fails and records nothing.
func TestDispatchChecksContract(t *testing.T) {
	d, k := testDevice(t)
	x := upload(t, d, []float32{1, 2, 3, 4})
	pipe, err := k.pipeline("copy", k.ewSpec()...)
	if err != nil {
		t.Fatal(err)
	}
	p := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	err = k.dispatch(p, "copy", pipe, [3]uint32{1, 1, 1}, nil, x.Span().Read(), x.Span().Write())
	if err == nil || !strings.Contains(err.Error(), "dispatch copy: shader copy: 0 bytes of push constants") {
		t.Errorf("error %v, want the push-constant mismatch", err)
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded, want none", p.Len())
	}
}

func reflectShader(t *testing.T, name string) spvInterface {
	t.Helper()
	code, err := shaders.SPIRV(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := reflectSPIRV(code)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func spvBytes(w []uint32) []byte {
	b := make([]byte, 0, 4*len(w))
	for _, x := range w {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// spvIns is one instruction: its word offset and its words.
type spvIns struct {
	at  int
	op  uint32
	ins []uint32
}

// instructions lists the instructions of a module's words.
func instructions(t *testing.T, w []uint32) []spvIns {
	t.Helper()
	var out []spvIns
	for i := 5; i < len(w); {
		n := int(w[i] >> 16)
		if n == 0 || i+n > len(w) {
			t.Fatalf("malformed instruction at word %d", i)
		}
		out = append(out, spvIns{i, w[i] & 0xffff, w[i : i+n]})
		i += n
	}
	return out
}

// boundVariables returns the variables decorated with binding b and the
// struct types they point to.
func boundVariables(t *testing.T, w []uint32, b uint32) (vars, structs []uint32) {
	t.Helper()
	all := instructions(t, w)
	for _, in := range all {
		if in.op == opDecorate && in.ins[2] == decBinding && in.ins[3] == b {
			vars = append(vars, in.ins[1])
		}
	}
	ptrs := map[uint32]uint32{}
	for _, in := range all {
		if in.op == opTypePointer {
			ptrs[in.ins[1]] = in.ins[3]
		}
	}
	for _, in := range all {
		if in.op == opVariable && slices.Contains(vars, in.ins[2]) {
			structs = append(structs, ptrs[in.ins[1]])
		}
	}
	if len(vars) == 0 {
		t.Fatalf("no variable at binding %d", b)
	}
	return vars, structs
}

// dropAccessDecor removes decoration dec (NonWritable, NonReadable) from
// binding b's variables and their members: the qualifier deleted.
func dropAccessDecor(b, dec uint32) func(*testing.T, []uint32) []uint32 {
	return func(t *testing.T, w []uint32) []uint32 {
		vars, structs := boundVariables(t, w, b)
		out, dropped := w[:5:5], 0
		for _, in := range instructions(t, w) {
			if (in.op == opDecorate && slices.Contains(vars, in.ins[1]) && in.ins[2] == dec) ||
				(in.op == opMemberDecorate && slices.Contains(structs, in.ins[1]) && in.ins[3] == dec) {
				dropped++
				continue
			}
			out = append(out, in.ins...)
		}
		if dropped == 0 {
			t.Fatalf("binding %d has no decoration %d to drop", b, dec)
		}
		return out
	}
}

// setDecoration rewrites the literal of decoration dec from old to new.
func setDecoration(dec, old, new uint32) func(*testing.T, []uint32) []uint32 {
	return func(t *testing.T, w []uint32) []uint32 {
		for _, in := range instructions(t, w) {
			if in.op == opDecorate && in.ins[2] == dec && in.ins[3] == old {
				w[in.at+3] = new
				return w
			}
		}
		t.Fatalf("no decoration %d %d", dec, old)
		return nil
	}
}

func setBinding(old, new uint32) func(*testing.T, []uint32) []uint32 {
	return setDecoration(decBinding, old, new)
}

func setDescriptorSet(old, new uint32) func(*testing.T, []uint32) []uint32 {
	return setDecoration(decDescriptorSet, old, new)
}

// pushStruct returns the struct type of the push-constant block.
func pushStruct(t *testing.T, w []uint32) uint32 {
	t.Helper()
	all := instructions(t, w)
	for _, v := range all {
		if v.op == opVariable && v.ins[3] == scPushConstant {
			for _, p := range all {
				if p.op == opTypePointer && p.ins[1] == v.ins[1] {
					return p.ins[3]
				}
			}
		}
	}
	t.Fatal("no push-constant block")
	return 0
}

// setPushMemberType makes member k of the push block an int of the given
// signedness (0: uint): GLSL's type changed, the offsets not.
func setPushMemberType(k int, signed uint32) func(*testing.T, []uint32) []uint32 {
	return func(t *testing.T, w []uint32) []uint32 {
		st := pushStruct(t, w)
		var intType uint32
		for _, in := range instructions(t, w) {
			if in.op == opTypeInt && in.ins[2] == 32 && in.ins[3] == signed {
				intType = in.ins[1]
			}
		}
		for _, in := range instructions(t, w) {
			if in.op == opTypeStruct && in.ins[1] == st && intType != 0 {
				w[in.at+2+k] = intType
				return w
			}
		}
		t.Fatal("no 32-bit int type or push struct")
		return nil
	}
}

// setPushMemberOffset moves member k of the push block to byte off.
func setPushMemberOffset(k int, off uint32) func(*testing.T, []uint32) []uint32 {
	return func(t *testing.T, w []uint32) []uint32 {
		st := pushStruct(t, w)
		for _, in := range instructions(t, w) {
			if in.op == opMemberDecorate && in.ins[1] == st && in.ins[2] == uint32(k) && in.ins[3] == decOffset {
				w[in.at+4] = off
				return w
			}
		}
		t.Fatalf("push member %d has no Offset", k)
		return nil
	}
}
