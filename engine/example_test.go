package engine_test

import (
	"fmt"
	"log"

	"github.com/nfvk/nfvk/engine"
)

// Open the device nfvk would pick ($NFVK_DEVICE, else the best: discrete
// GPU, integrated, virtual, then lavapipe on the CPU), move numbers
// through a device buffer and close it. A program hands the device to
// kernels.New to train or run models on it.
func ExampleOpen() {
	dev, err := engine.Open(engine.Options{})
	if err != nil {
		log.Fatal(err) // engine.ErrNoLoader or ErrNoDevice: no Vulkan here
	}
	info := dev.Info()
	fmt.Println("opened a Vulkan device:", info.Name != "")

	buf, err := dev.NewBuffer("example", 4*4)
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Upload(buf, []float32{1, 2, 3, 4}); err != nil {
		log.Fatal(err)
	}
	back := make([]float32, 4)
	if err := engine.Download(buf, back); err != nil {
		log.Fatal(err)
	}
	fmt.Println(back)
	buf.Free()

	if err := dev.Close(); err != nil {
		log.Fatal(err)
	}
	// With Options.Validate (or NFVK_VALIDATE=1) the Khronos validation
	// layer's messages are collected; none is expected.
	if err := engine.ValidationError(dev.ValidationMessages()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("closed")
	// Output:
	// opened a Vulkan device: true
	// [1 2 3 4]
	// closed
}
