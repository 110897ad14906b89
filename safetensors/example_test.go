package safetensors_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nfvk/nfvk/safetensors"
)

// Write a checkpoint atomically, then map it back in and read it.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ckpt.safetensors")

	err = safetensors.WriteFile(path, []safetensors.Tensor{
		safetensors.F32("head.fc.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		safetensors.F32("loss", nil, []float32{2.3152878}), // a 0-d scalar
		safetensors.I64("labels", []int{4}, []int64{3, 1, 4, 1}),
	}, map[string]string{"step": "1"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	for _, name := range f.Names() {
		info, _ := f.Info(name)
		fmt.Println(name, info.DType, info.Shape)
	}
	w, shape, err := f.Float32s("head.fc.weight")
	if err != nil {
		log.Fatal(err)
	}
	labels, _, err := f.Int64s("labels")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w, shape, labels, f.Metadata()["step"])

	_, _, err = f.Float32s("labels")
	fmt.Println(err != nil, errors.Is(err, safetensors.ErrDType))
	// Output:
	// head.fc.weight F32 [2 3]
	// labels I64 [4]
	// loss F32 []
	// [1 2 3 4 5 6] [2 3] [3 1 4 1] 1
	// true true
}
