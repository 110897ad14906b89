package kernels

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/spirv"
)

// A minimal SPIR-V reflection reader: just enough of a compute shader's
// interface (its buffer bindings with their readonly/writeonly
// qualifiers and its push-constant block) to hold it against the
// shader's contract. It walks the word stream once; names are not used,
// since glslc -O strips them.

// SPIR-V opcodes, decorations and storage classes the reader needs
// (numbers from the SPIR-V specification).
const (
	spvMagic = 0x07230203

	opTypeBool         = 20
	opTypeInt          = 21
	opTypeFloat        = 22
	opTypeVector       = 23
	opTypeArray        = 28
	opTypeRuntimeArray = 29
	opTypeStruct       = 30
	opTypePointer      = 32
	opConstant         = 43
	opVariable         = 59
	opDecorate         = 71
	opMemberDecorate   = 72

	decArrayStride   = 6
	decBufferBlock   = 3
	decNonWritable   = 24
	decNonReadable   = 25
	decBinding       = 33
	decDescriptorSet = 34
	decOffset        = 35

	scUniform       = 2
	scPushConstant  = 9
	scStorageBuffer = 12
)

// spvBinding is one descriptor binding of a module: every variable
// decorated with that set and binding (glslc emits one per GLSL block,
// and the shaders alias a buffer as float[] and vec4[]).
type spvBinding struct {
	Set, Binding uint32
	// Storage is false for anything but a storage buffer (a uniform
	// buffer, an image, an array of buffers).
	Storage bool
	// Access is what the shader may do: Read unless every variable is
	// NonReadable (writeonly), Write unless every one is NonWritable
	// (readonly).
	Access engine.Access
}

// spvMember is one member of the push-constant block.
type spvMember struct {
	Offset int
	Type   string // GLSL spelling: uint, int, float, vec4, uint[3], ...
	Size   int
}

// spvInterface is the host-visible interface of a module.
type spvInterface struct {
	Bindings []spvBinding // sorted by set, then binding
	Push     []spvMember  // nil without a push-constant block
}

// PushSize is the byte size of the push-constant block: its last byte.
func (m spvInterface) PushSize() int {
	n := 0
	for _, f := range m.Push {
		n = max(n, f.Offset+f.Size)
	}
	return n
}

// spvWords returns the words of a little-endian SPIR-V module.
func spvWords(code []byte) ([]uint32, error) { return spirv.Words(code) }

// spvModule holds what one pass over the instructions collects.
type spvModule struct {
	types     map[uint32][]uint32 // type id -> its instruction (opcode first)
	consts    map[uint32]uint32   // 32-bit OpConstant values
	decor     map[uint32]map[uint32]uint32
	member    map[[2]uint32]map[uint32]uint32 // (struct, member) -> decorations
	variables [][3]uint32                     // pointer type, id, storage class
}

// reflectSPIRV reads the interface of a SPIR-V module.
func reflectSPIRV(code []byte) (spvInterface, error) {
	words, err := spvWords(code)
	if err != nil {
		return spvInterface{}, err
	}
	m := spvModule{types: map[uint32][]uint32{}, consts: map[uint32]uint32{},
		decor: map[uint32]map[uint32]uint32{}, member: map[[2]uint32]map[uint32]uint32{}}
	for i := 5; i < len(words); {
		n, op := int(words[i]>>16), words[i]&0xffff
		if n == 0 || i+n > len(words) {
			return spvInterface{}, fmt.Errorf("spirv: truncated instruction (opcode %d) at word %d", op, i)
		}
		ins := words[i : i+n]
		i += n
		switch {
		case op >= opTypeBool && op <= opTypePointer && n >= 2:
			m.types[ins[1]] = append([]uint32{op}, ins[2:]...)
		case op == opConstant && n == 4:
			m.consts[ins[2]] = ins[3]
		case op == opVariable && n >= 4:
			m.variables = append(m.variables, [3]uint32{ins[1], ins[2], ins[3]})
		case op == opDecorate && n >= 3:
			setDecor(m.decor, ins[1], ins[2], ins[3:])
		case op == opMemberDecorate && n >= 4:
			setDecor(m.member, [2]uint32{ins[1], ins[2]}, ins[3], ins[4:])
		}
	}
	var out spvInterface
	for _, v := range m.variables {
		if err := m.addVariable(&out, v[0], v[1], v[2]); err != nil {
			return spvInterface{}, err
		}
	}
	slices.SortFunc(out.Bindings, func(a, b spvBinding) int {
		return cmp.Or(cmp.Compare(a.Set, b.Set), cmp.Compare(a.Binding, b.Binding))
	})
	return out, nil
}

// setDecor records decoration dec (with its first literal, if any) of key.
func setDecor[K comparable](m map[K]map[uint32]uint32, key K, dec uint32, lits []uint32) {
	if m[key] == nil {
		m[key] = map[uint32]uint32{}
	}
	var v uint32
	if len(lits) > 0 {
		v = lits[0]
	}
	m[key][dec] = v
}

// addVariable adds a push-constant block or a descriptor binding to out.
func (m spvModule) addVariable(out *spvInterface, ptr, id, class uint32) error {
	pt := m.types[ptr]
	if len(pt) != 3 || pt[0] != opTypePointer {
		return fmt.Errorf("spirv: variable %%%d: type %%%d is not a pointer", id, ptr)
	}
	pointee := pt[2]
	switch class {
	case scPushConstant:
		if out.Push != nil {
			return errors.New("spirv: two push-constant blocks")
		}
		members, err := m.structMembers(pointee)
		if err != nil {
			return fmt.Errorf("spirv: push-constant block: %w", err)
		}
		out.Push = members
		return nil
	case scStorageBuffer, scUniform:
	default:
		if !hasDecor(m.decor[id], decBinding) {
			return nil // inputs, workgroup memory, private variables
		}
	}
	d := m.decor[id]
	if !hasDecor(d, decBinding) {
		return fmt.Errorf("spirv: buffer variable %%%d has no Binding", id)
	}
	b := spvBinding{Set: d[decDescriptorSet], Binding: d[decBinding], Access: engine.ReadWrite}
	st := m.types[pointee]
	b.Storage = len(st) > 0 && st[0] == opTypeStruct && (class == scStorageBuffer || hasDecor(m.decor[pointee], decBufferBlock))
	if b.Storage {
		// readonly and writeonly land on the variable or on every member.
		noWrite, noRead := hasDecor(d, decNonWritable), hasDecor(d, decNonReadable)
		allW, allR := true, true
		for k := range len(st) - 1 {
			md := m.member[[2]uint32{pointee, uint32(k)}]
			allW = allW && hasDecor(md, decNonWritable)
			allR = allR && hasDecor(md, decNonReadable)
		}
		if noWrite || allW {
			b.Access &^= engine.Write
		}
		if noRead || allR {
			b.Access &^= engine.Read
		}
	}
	for i, o := range out.Bindings {
		if o.Set == b.Set && o.Binding == b.Binding {
			// Aliases of one binding: it may do what any of them does.
			out.Bindings[i].Access |= b.Access
			out.Bindings[i].Storage = o.Storage && b.Storage
			return nil
		}
	}
	out.Bindings = append(out.Bindings, b)
	return nil
}

func hasDecor(d map[uint32]uint32, dec uint32) bool {
	_, ok := d[dec]
	return ok
}

// structMembers lists the members of struct type id with their offsets.
func (m spvModule) structMembers(id uint32) ([]spvMember, error) {
	st := m.types[id]
	if len(st) == 0 || st[0] != opTypeStruct {
		return nil, fmt.Errorf("type %%%d is not a struct", id)
	}
	out := make([]spvMember, 0, len(st)-1)
	for k, t := range st[1:] {
		off, ok := m.member[[2]uint32{id, uint32(k)}][decOffset]
		if !ok {
			return nil, fmt.Errorf("member %d has no Offset", k)
		}
		name, size, err := m.typeOf(t)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", k, err)
		}
		out = append(out, spvMember{Offset: int(off), Type: name, Size: size})
	}
	return out, nil
}

// typeOf is the GLSL spelling and byte size of type id (as laid out in a
// block: arrays by their ArrayStride).
func (m spvModule) typeOf(id uint32) (string, int, error) {
	t := m.types[id]
	if len(t) == 0 {
		return "", 0, fmt.Errorf("type %%%d not declared", id)
	}
	switch {
	case t[0] == opTypeInt && len(t) == 3:
		name := "uint"
		if t[2] == 1 {
			name = "int"
		}
		if t[1] != 32 {
			name = fmt.Sprintf("%s%d_t", name, t[1])
		}
		return name, int(t[1] / 8), nil
	case t[0] == opTypeFloat && len(t) >= 2:
		name := map[uint32]string{16: "float16_t", 32: "float", 64: "double"}[t[1]]
		if name == "" {
			name = fmt.Sprintf("float%d_t", t[1])
		}
		return name, int(t[1] / 8), nil
	case t[0] == opTypeVector && len(t) == 3:
		comp, size, err := m.typeOf(t[1])
		if err != nil {
			return "", 0, err
		}
		prefix := map[string]string{"float": "", "uint": "u", "int": "i", "double": "d"}[comp]
		return fmt.Sprintf("%svec%d", prefix, t[2]), size * int(t[2]), nil
	case t[0] == opTypeArray && len(t) == 3:
		elem, size, err := m.typeOf(t[1])
		if err != nil {
			return "", 0, err
		}
		n, ok := m.consts[t[2]]
		if !ok {
			return "", 0, fmt.Errorf("array %%%d: length is not a constant", id)
		}
		if s, ok := m.decor[id][decArrayStride]; ok {
			size = int(s)
		}
		return fmt.Sprintf("%s[%d]", elem, n), size * int(n), nil
	case t[0] == opTypeStruct:
		members, err := m.structMembers(id)
		if err != nil {
			return "", 0, fmt.Errorf("struct %%%d: %w", id, err)
		}
		return "struct", spvInterface{Push: members}.PushSize(), nil
	}
	return "", 0, fmt.Errorf("type %%%d (opcode %d) cannot be sized", id, t[0])
}
