package safetensors

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// allocatedBy returns the bytes of heap fn allocated (plus whatever other
// goroutines allocated meanwhile).
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzParse checks that Parse never panics, that its allocations stay
// proportional to the input, that failures wrap ErrMalformed, and that what
// it accepts survives a write and a second parse unchanged.
func FuzzParse(f *testing.F) {
	var valid bytes.Buffer
	Encode(&valid, []Tensor{
		F32("w", []int{2, 2}, []float32{1, 2, 3, 4}),
		I64("labels", []int{2}, []int64{3, 7}),
		F32("loss", nil, []float32{2.5}),
		{Name: "h", DType: DTypeF16, Shape: []int{1}, Data: []byte{0, 0x3c}},
		{Name: "e", DType: DTypeU8, Shape: []int{0}},
	}, map[string]string{"k": "v"})
	f.Add(valid.Bytes())
	f.Add(build(`{}`, nil))
	f.Add(build(`{"__metadata__":null}`, nil))
	f.Add(build(`{`+f32a+`,"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}}`, make([]byte, 10)))
	f.Add(build(`{`+f32a+`,`+f32a+`}`, make([]byte, 8)))
	f.Add(build(`{`+f32a+`,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{"a":{"dtype":"X","shape":[],"data_offsets":[0,4,8]}}`, make([]byte, 4)))
	f.Add(build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}} x`, make([]byte, 4)))
	f.Add(build(`[1,2,3]`, nil))
	f.Add(withLength(1<<62, "{}"))
	f.Add([]byte{1, 2, 3})

	f.Fuzz(func(t *testing.T, data []byte) {
		var file *File
		var err error
		allocs := allocatedBy(func() { file, err = Parse(data) })
		if limit := uint64(128*len(data) + 1<<20); allocs > limit {
			t.Fatalf("Parse allocated %d bytes for %d bytes of input (limit %d)", allocs, len(data), limit)
		}
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a File and an error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var tensors []Tensor
		for _, name := range file.Names() {
			info, ok := file.Info(name)
			b, err := file.Bytes(name)
			if !ok || err != nil || len(b) != info.NumElements()*info.DType.Size() {
				t.Fatalf("tensor %q: %+v, %d bytes, %v", name, info, len(b), err)
			}
			file.Float32s(name)
			file.Int64s(name)
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: b})
		}
		var out bytes.Buffer
		if err := Encode(&out, tensors, file.Metadata()); err != nil {
			t.Fatalf("cannot re-encode what Parse accepted: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("cannot parse what Encode wrote: %v", err)
		}
		checkTensors(t, again, tensors)
	})
}
