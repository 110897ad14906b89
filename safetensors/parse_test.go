package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// build assembles a file from a header string and data bytes.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// withLength assembles a file whose length field says n, whatever follows.
func withLength(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

const f32a = `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`

func TestParseMalformed(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name string
		raw  []byte
		want []string // substrings of the error message
		also error    // another sentinel the error must wrap
	}{
		{"empty file", nil, []string{"0 bytes, shorter than the 8-byte header length"}, nil},
		{"7 bytes", zeros(7), []string{"7 bytes, shorter"}, nil},
		{"header length past end", withLength(100, "{}"), []string{"header length 100 runs past the end of the 10-byte file"}, nil},
		{"header length above cap", withLength(MaxHeaderSize+1, "{}"), []string{"exceeds the limit"}, nil},
		{"header length 2^64-1", withLength(math.MaxUint64, "{}"), []string{"exceeds the limit"}, nil},
		{"zero header length", withLength(0, ""), []string{"not valid JSON", "EOF"}, nil},
		{"truncated JSON", build(`{"a":`, nil), []string{"not valid JSON"}, nil},
		{"invalid JSON", build(`{"a" 1}`, nil), []string{"not valid JSON"}, nil},
		{"bad JSON inside entry", build(`{"a":{"dtype":}}`, nil), []string{`not valid JSON (at tensor "a")`}, nil},
		{"bad JSON inside metadata", build(`{"__metadata__":{"k":]}`, nil), []string{"not valid JSON (at __metadata__)"}, nil},
		{"non-string key", build(`{1:2}`, nil), []string{"not valid JSON"}, nil},
		{"invalid UTF-8", build("{\"\xff\":{}}", nil), []string{"not valid UTF-8"}, nil},
		{"array", build(`[]`, nil), []string{"not a JSON object"}, nil},
		{"string", build(`"x"`, nil), []string{"not a JSON object"}, nil},
		{"null", build(`null`, nil), []string{"not a JSON object"}, nil},
		{"second object", build(`{} {}`, nil), []string{"trailing data after its JSON object"}, nil},
		{"trailing garbage", build(`{}x`, nil), []string{"trailing data after its JSON object"}, nil},
		{"entry not object", build(`{"a":5}`, nil), []string{`tensor "a": entry is not a JSON object`}, nil},
		{"entry null", build(`{"a":null}`, nil), []string{`tensor "a": entry is null`}, nil},
		{"missing dtype", build(`{"a":{"shape":[],"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": missing "dtype"`}, nil},
		{"missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": missing "shape"`}, nil},
		{"missing data_offsets", build(`{"a":{"dtype":"F32","shape":[]}}`, zeros(4)), []string{`tensor "a": missing "data_offsets"`}, nil},
		{"dtype not string", build(`{"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": "dtype" is 4, want a string`}, nil},
		{"dtype null", build(`{"a":{"dtype":null,"shape":[],"data_offsets":[0,4]}}`, zeros(4)), []string{`"dtype" is null`}, nil},
		{"unknown dtype", build(`{"a":{"dtype":"F8_E4M3","shape":[],"data_offsets":[0,1]}}`, zeros(1)), []string{`tensor "a": dtype "F8_E4M3"`}, ErrUnknownDType},
		{"lower-case dtype", build(`{"a":{"dtype":"f32","shape":[],"data_offsets":[0,4]}}`, zeros(4)), []string{`dtype "f32"`}, ErrUnknownDType},
		{"shape not array", build(`{"a":{"dtype":"F32","shape":3,"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": "shape" is 3, want an array of integers`}, nil},
		{"shape null", build(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, zeros(4)), []string{`"shape" is null`}, nil},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": shape [2 -1] has invalid dimension -1`}, nil},
		{"fractional dim", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, zeros(4)), []string{`"shape" is [1.5]`}, nil},
		{"dim beyond int64", build(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, zeros(4)), []string{`"shape" is [99999999999999999999]`}, nil},
		{"shape overflow", build(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": F32 [2147483647 2147483647 2147483647] holds more than 2^63 bytes`}, nil},
		{"one offset", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[4]}}`, zeros(4)), []string{`tensor "a": "data_offsets" has 1 values, want 2`}, nil},
		{"three offsets", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}}`, zeros(8)), []string{`"data_offsets" has 3 values`}, nil},
		{"offsets not array", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":"0-4"}}`, zeros(4)), []string{`"data_offsets" is "0-4"`}, nil},
		{"negative offset", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[-4,0]}}`, zeros(4)), []string{`tensor "a": negative data_offsets [-4, 0]`}, nil},
		{"begin after end", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[8,4]}}`, zeros(8)), []string{`tensor "a": data_offsets begin 8 is after end 4`}, nil},
		{"end beyond data", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, zeros(4)), []string{`tensor "a": data_offsets end 8 lies beyond the 4 bytes of data`}, nil},
		{"length mismatch", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, zeros(4)), []string{`tensor "a": data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8`}, nil},
		{"scalar with no bytes", build(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,0]}}`, nil), []string{`hold 0 bytes, but I64 [] needs 8`}, nil},
		{"overlap", build(`{`+f32a+`,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, zeros(12)), []string{`tensors "a" [0, 8] and "b" [4, 12] overlap`}, nil},
		{"same offsets", build(`{`+f32a+`,"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, zeros(8)), []string{`tensors "a" [0, 8] and "b" [0, 8] overlap`}, nil},
		{"empty tensor inside another", build(`{`+f32a+`,"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, zeros(8)), []string{`"e" [4, 4] overlap`}, nil},
		{"gap at start", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, zeros(8)), []string{`4 unused bytes at data offset 0, before tensor "a"`}, nil},
		{"gap between", build(`{`+f32a+`,"b":{"dtype":"F32","shape":[],"data_offsets":[12,16]}}`, zeros(16)), []string{`4 unused bytes at data offset 8, before tensor "b"`}, nil},
		{"trailing bytes", build(`{`+f32a+`}`, zeros(12)), []string{"4 bytes of trailing data after the last tensor"}, nil},
		{"bytes with no tensors", build(`{}`, zeros(1)), []string{"1 bytes of trailing data"}, nil},
		{"duplicate tensor", build(`{`+f32a+`,`+f32a+`}`, zeros(8)), []string{`tensor "a" appears more than once`}, nil},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, nil), []string{`tensor "__metadata__" appears more than once`}, nil},
		{"metadata not object", build(`{"__metadata__":5}`, nil), []string{"__metadata__ is not an object of strings"}, nil},
		{"metadata number value", build(`{"__metadata__":{"k":1}}`, nil), []string{"__metadata__ is not an object of strings"}, nil},
		{"metadata null value", build(`{"__metadata__":{"k":null}}`, nil), []string{`__metadata__["k"] is null`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.raw)
			if err == nil {
				t.Fatalf("Parse succeeded with %d tensors, want an error", f.Len())
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("error %q does not wrap %v", err, tt.also)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: ") {
				t.Errorf("error %q does not start with \"safetensors: \"", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	type want struct {
		name  string
		dtype DType
		shape []int
		begin int64
	}
	tests := []struct {
		name     string
		raw      []byte
		tensors  []want
		metadata map[string]string
	}{
		{"no tensors", build(`{}`, nil), nil, nil},
		{"padding and newlines", build(" {\n}\n   ", nil), nil, nil},
		{"metadata null", build(`{"__metadata__":null}`, nil), nil, nil},
		{"metadata", build(`{"__metadata__":{"format":"pt","":""}}`, nil), nil, map[string]string{"format": "pt", "": ""}},
		{"scalar", build(`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)),
			[]want{{"s", DTypeF32, []int{}, 0}}, nil},
		{"empty tensors", build(`{"e":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]},"z":{"dtype":"F32","shape":[2147483647,0],"data_offsets":[0,0]}}`, nil),
			[]want{{"e", DTypeI64, []int{0, 3}, 0}, {"z", DTypeF32, []int{math.MaxInt32, 0}, 0}}, nil},
		{"empty tensor between", build(`{`+f32a+`,"b":{"dtype":"U8","shape":[0],"data_offsets":[8,8]},"c":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}}`, make([]byte, 9)),
			[]want{{"a", DTypeF32, []int{2}, 0}, {"b", DTypeU8, []int{0}, 8}, {"c", DTypeU8, []int{1}, 8}}, nil},
		{"header out of data order, extra key ignored", build(`{"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10],"extra":[1]},`+f32a+`}`, make([]byte, 10)),
			[]want{{"a", DTypeF32, []int{2}, 0}, {"b", DTypeBF16, []int{1}, 8}}, nil},
		{"unicode names", build(`{"\u00e9\ud83d\ude00":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
			[]want{{"é😀", DTypeBool, []int{1}, 0}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var names []string
			for _, w := range tt.tensors {
				names = append(names, w.name)
				info, ok := f.Info(w.name)
				if !ok {
					t.Fatalf("Info(%q) not found", w.name)
				}
				size := int64(info.NumElements() * info.DType.Size())
				if info.Name != w.name || info.DType != w.dtype || !slices.Equal(info.Shape, w.shape) ||
					info.Begin != w.begin || info.End != w.begin+size {
					t.Errorf("Info(%q) = %+v, want %+v", w.name, info, w)
				}
				b, err := f.Bytes(w.name)
				if err != nil || int64(len(b)) != size {
					t.Errorf("Bytes(%q) = %d bytes, %v; want %d", w.name, len(b), err, size)
				}
			}
			if got := f.Names(); !slices.Equal(got, names) {
				t.Errorf("Names() = %q, want %q", got, names)
			}
			if got := f.Metadata(); len(got) != len(tt.metadata) {
				t.Errorf("Metadata() = %v, want %v", got, tt.metadata)
			} else {
				for k, v := range tt.metadata {
					if got[k] != v {
						t.Errorf("Metadata()[%q] = %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
}

func TestDTypeSize(t *testing.T) {
	tests := []struct {
		d    DType
		size int
	}{
		{DTypeF64, 8}, {DTypeF32, 4}, {DTypeF16, 2}, {DTypeBF16, 2},
		{DTypeI64, 8}, {DTypeI32, 4}, {DTypeI16, 2}, {DTypeI8, 1},
		{DTypeU64, 8}, {DTypeU32, 4}, {DTypeU16, 2}, {DTypeU8, 1}, {DTypeBool, 1},
		{"f32", 0}, {"", 0}, {"F8_E4M3", 0},
	}
	for _, tt := range tests {
		if got := tt.d.Size(); got != tt.size {
			t.Errorf("DType(%q).Size() = %d, want %d", tt.d, got, tt.size)
		}
		if got := tt.d.Valid(); got != (tt.size > 0) {
			t.Errorf("DType(%q).Valid() = %v", tt.d, got)
		}
	}
}

// TestParseHostileClaims checks that lengths, offsets and shapes a file
// claims never size an allocation.
func TestParseHostileClaims(t *testing.T) {
	inputs := [][]byte{
		withLength(math.MaxUint64, "{}"),
		withLength(MaxHeaderSize, "{}"),
		build(`{"a":{"dtype":"F64","shape":[1099511627776,1099511627776],"data_offsets":[0,9223372036854775807]}}`, nil),
		build(`{"a":{"dtype":"F64","shape":[1152921504606846975],"data_offsets":[0,9223372036854775800]}}`, nil),
		build(`{"a":{"dtype":"U8","shape":[9223372036854775807],"data_offsets":[9223372036854775807,9223372036854775807]}}`, nil),
	}
	for i, raw := range inputs {
		allocs := allocatedBy(func() { Parse(raw) })
		if allocs > 64<<10 {
			t.Errorf("input %d: Parse allocated %d bytes for a %d-byte input", i, allocs, len(raw))
		}
		if _, err := Parse(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("input %d: Parse error = %v, want ErrMalformed", i, err)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	f, err := Parse(build(`{`+f32a+`,"i":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"q":{"dtype":"U64","shape":[],"data_offsets":[16,24]}}`, make([]byte, 24)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"Bytes missing", func() error { _, err := f.Bytes("nope"); return err }, ErrNotFound, `tensor "nope": no such tensor`},
		{"Float32s missing", func() error { _, _, err := f.Float32s("nope"); return err }, ErrNotFound, `"nope"`},
		{"Int64s missing", func() error { _, _, err := f.Int64s("nope"); return err }, ErrNotFound, `"nope"`},
		{"Float32s of I64", func() error { _, _, err := f.Float32s("i"); return err }, ErrDType, `tensor "i": cannot convert I64 to float32`},
		{"Int64s of F32", func() error { _, _, err := f.Int64s("a"); return err }, ErrDType, `tensor "a": cannot convert F32 to int64`},
		{"Int64s of U64", func() error { _, _, err := f.Int64s("q"); return err }, ErrDType, `cannot convert U64 to int64`},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%s: error %v, want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
	}
	if _, ok := f.Info("nope"); ok {
		t.Error(`Info("nope") found a tensor`)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Bytes("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bytes after Close: %v, want ErrClosed", err)
	}
	if _, _, err := f.Float32s("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Float32s after Close: %v, want ErrClosed", err)
	}
	if got := f.Names(); len(got) != 3 {
		t.Errorf("Names after Close = %q", got)
	}
}

func TestFloat32s(t *testing.T) {
	le := binary.LittleEndian
	var f64, f16, bf16, f32 []byte
	f64 = le.AppendUint64(f64, math.Float64bits(0.1))
	f64 = le.AppendUint64(f64, math.Float64bits(-1e300))
	f16 = le.AppendUint16(f16, 0x3c00)   // 1
	f16 = le.AppendUint16(f16, 0xc000)   // -2
	bf16 = le.AppendUint16(bf16, 0x3f80) // 1
	bf16 = le.AppendUint16(bf16, 0xc2f7) // -123.5
	f32 = le.AppendUint32(f32, math.Float32bits(2.3152878))
	data := slices.Concat(f64, f32, f16, bf16)
	f, err := Parse(build(`{`+
		`"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},`+
		`"f":{"dtype":"F32","shape":[],"data_offsets":[16,20]},`+
		`"h":{"dtype":"F16","shape":[1,2],"data_offsets":[20,24]},`+
		`"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[24,28]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		want  []float32
		shape []int
	}{
		{"d", []float32{0.1, float32(math.Inf(-1))}, []int{2}},
		{"f", []float32{2.3152878}, []int{}},
		{"h", []float32{1, -2}, []int{1, 2}},
		{"b", []float32{1, -123.5}, []int{2, 1}},
	}
	for _, tt := range tests {
		got, shape, err := f.Float32s(tt.name)
		if err != nil || !slices.Equal(got, tt.want) || !slices.Equal(shape, tt.shape) {
			t.Errorf("Float32s(%q) = %v, %v, %v; want %v, %v", tt.name, got, shape, err, tt.want, tt.shape)
		}
	}
}

// TestF16Exhaustive checks every half-precision bit pattern against the
// definition: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 if e == 0.
func TestF16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(1)
		case e == 0x1f:
			want = math.NaN()
		case e == 0:
			want = math.Ldexp(float64(m), -24)
		default:
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		got := f16ToF32(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Errorf("f16ToF32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s == 1) {
			t.Errorf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func TestInt64s(t *testing.T) {
	le := binary.LittleEndian
	var data []byte
	data = le.AppendUint64(data, math.MaxUint64) // i64: -1
	data = le.AppendUint64(data, 1<<62)
	data = le.AppendUint32(data, math.MaxUint32) // i32: -1
	data = le.AppendUint16(data, 0x8000)         // i16: -32768
	data = append(data, 0x80, 0xff)              // i8: -128, -1
	data = append(data, 0xff, 0x07)              // u8: 255, 7
	data = le.AppendUint16(data, 0x8000)         // u16: 32768
	data = le.AppendUint32(data, math.MaxUint32) // u32: 4294967295
	f, err := Parse(build(`{`+
		`"i64":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},`+
		`"i32":{"dtype":"I32","shape":[],"data_offsets":[16,20]},`+
		`"i16":{"dtype":"I16","shape":[1],"data_offsets":[20,22]},`+
		`"i8":{"dtype":"I8","shape":[2],"data_offsets":[22,24]},`+
		`"u8":{"dtype":"U8","shape":[2],"data_offsets":[24,26]},`+
		`"u16":{"dtype":"U16","shape":[1],"data_offsets":[26,28]},`+
		`"u32":{"dtype":"U32","shape":[1],"data_offsets":[28,32]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		want  []int64
		shape []int
	}{
		{"i64", []int64{-1, 1 << 62}, []int{2}},
		{"i32", []int64{-1}, []int{}},
		{"i16", []int64{-32768}, []int{1}},
		{"i8", []int64{-128, -1}, []int{2}},
		{"u8", []int64{255, 7}, []int{2}},
		{"u16", []int64{32768}, []int{1}},
		{"u32", []int64{math.MaxUint32}, []int{1}},
	}
	for _, tt := range tests {
		got, shape, err := f.Int64s(tt.name)
		if err != nil || !slices.Equal(got, tt.want) || !slices.Equal(shape, tt.shape) {
			t.Errorf("Int64s(%q) = %v, %v, %v; want %v, %v", tt.name, got, shape, err, tt.want, tt.shape)
		}
	}
}
