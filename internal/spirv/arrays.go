// Package spirv inspects SPIR-V modules for properties the shader build
// and the tests enforce on every embedded module.
package spirv

import (
	"encoding/binary"
	"fmt"
)

// SPIR-V opcodes the checks need (numbers from the SPIR-V specification).
const (
	magic = 0x07230203

	opTypeArray             = 28
	opConstant              = 43
	opSpecConstantTrue      = 48
	opSpecConstantFalse     = 49
	opSpecConstant          = 50
	opSpecConstantComposite = 51
	opSpecConstantOp        = 52
)

var opName = map[uint32]string{
	opSpecConstantTrue:      "OpSpecConstantTrue",
	opSpecConstantFalse:     "OpSpecConstantFalse",
	opSpecConstant:          "OpSpecConstant",
	opSpecConstantComposite: "OpSpecConstantComposite",
	opSpecConstantOp:        "OpSpecConstantOp",
}

// Words returns the words of a little-endian SPIR-V module, checking its
// size and magic number.
func Words(code []byte) ([]uint32, error) {
	if len(code)%4 != 0 || len(code) < 20 {
		return nil, fmt.Errorf("spirv: %d bytes, not a module", len(code))
	}
	w := make([]uint32, len(code)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	if w[0] != magic {
		return nil, fmt.Errorf("spirv: magic %#x, want %#x (little-endian)", w[0], magic)
	}
	return w, nil
}

// SpecSizedArrays returns one line for every OpTypeArray of code whose
// length is not a plain OpConstant: an array sized by a specialization
// constant (OpSpecConstant, or an OpSpecConstantOp such as
// gl_WorkGroupSize.x or TO*TP), which MoltenVK cannot translate to Metal.
// It fails only on a module it cannot read.
func SpecSizedArrays(code []byte) ([]string, error) {
	words, err := Words(code)
	if err != nil {
		return nil, err
	}
	defs := map[uint32]uint32{} // result id -> opcode, for constants
	type array struct{ id, length uint32 }
	var arrays []array
	for i := 5; i < len(words); {
		n, op := int(words[i]>>16), words[i]&0xffff
		if n == 0 || i+n > len(words) {
			return nil, fmt.Errorf("spirv: instruction at word %d has length %d, beyond the module", i, n)
		}
		ins := words[i : i+n]
		switch {
		case op == opConstant || opName[op] != "":
			if n >= 3 {
				defs[ins[2]] = op
			}
		case op == opTypeArray:
			if n >= 4 {
				arrays = append(arrays, array{ins[1], ins[3]})
			}
		}
		i += n
	}
	var bad []string
	for _, a := range arrays {
		switch op, ok := defs[a.length]; {
		case !ok:
			bad = append(bad, fmt.Sprintf("OpTypeArray %%%d: length %%%d is not a constant", a.id, a.length))
		case op != opConstant:
			bad = append(bad, fmt.Sprintf("OpTypeArray %%%d: length %%%d is an %s (sized by a specialization constant)", a.id, a.length, opName[op]))
		}
	}
	return bad, nil
}
