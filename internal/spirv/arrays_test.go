package spirv

import (
	"encoding/binary"
	"strings"
	"testing"
)

// module assembles a SPIR-V word stream (header, then instructions given
// as opcode and operands).
func module(ins ...[]uint32) []byte {
	words := []uint32{magic, 0x00010300, 0, 100, 0}
	for _, in := range ins {
		words = append(words, uint32(len(in))<<16|in[0])
		words = append(words, in[1:]...)
	}
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

func TestSpecSizedArrays(t *testing.T) {
	const uintT, floatT = 1, 2
	cases := []struct {
		name string
		ins  [][]uint32
		want []string // substrings, one per reported array
	}{
		{"constant length", [][]uint32{{opConstant, uintT, 10, 8}, {opTypeArray, 11, floatT, 10}}, nil},
		{"spec constant", [][]uint32{{opSpecConstant, uintT, 10, 8}, {opTypeArray, 11, floatT, 10}}, []string{"%11: length %10 is an OpSpecConstant "}},
		{"spec constant op", [][]uint32{{opSpecConstant, uintT, 10, 8}, {opSpecConstantOp, uintT, 12, 132, 10, 10},
			{opTypeArray, 11, floatT, 12}}, []string{"OpSpecConstantOp"}},
		{"undefined length", [][]uint32{{opTypeArray, 11, floatT, 99}}, []string{"not a constant"}},
		{"one good one bad", [][]uint32{{opConstant, uintT, 10, 8}, {opSpecConstant, uintT, 13, 8},
			{opTypeArray, 11, floatT, 10}, {opTypeArray, 14, 11, 13}}, []string{"%14: length %13"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SpecSizedArrays(module(c.ins...))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %d reports", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("report %q lacks %q", got[i], w)
				}
			}
		})
	}
}

func TestSpecSizedArraysRejectsBadModules(t *testing.T) {
	good := module([]uint32{opConstant, 1, 10, 8})
	for name, code := range map[string][]byte{
		"short":       good[:12],
		"odd length":  good[:len(good)-1],
		"bad magic":   append([]byte{0, 0, 0, 0}, good[4:]...),
		"overrun":     good[:len(good)-4],
		"zero length": append(good[:20:20], 0, 0, 0, 0),
	} {
		if _, err := SpecSizedArrays(code); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
