package data_test

import (
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/nfvk/nfvk/data"
)

// A picture as a model's input, as a program that embeds nfvk gets it
// (from image.Decode, a camera, a canvas): resized to the training size,
// gray for a 1-channel model, normalised with the training data's
// statistics (a checkpoint's recipe holds them: train.LoadRecipe's Mean
// and Std). Fill a batch by passing each image's slice of it.
func ExampleImageTensor() {
	// A 56x56 white square on black, like a Fashion-MNIST garment.
	img := image.NewGray(image.Rect(0, 0, 56, 56))
	for y := 14; y < 42; y++ {
		for x := 14; x < 42; x++ {
			img.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	const c, h, w = 1, 28, 28
	batch := make([]float32, 2*c*h*w)
	st := data.FashionMNISTStats
	for i := range 2 {
		if err := data.ImageTensor(img, c, h, w, st.Mean, st.Std, batch[i*c*h*w:(i+1)*c*h*w]); err != nil {
			log.Fatal(err)
		}
	}
	x := batch[:c*h*w]
	fmt.Printf("corner %.3f, centre %.3f\n", x[0], x[14*w+14])

	// An RGB model takes three planes: red, green, blue.
	rgb := make([]float32, 3*h*w)
	red := image.NewRGBA(image.Rect(0, 0, 10, 10))
	for y := range 10 {
		for x := range 10 {
			red.SetRGBA(x, y, color.RGBA{R: 255, A: 255})
		}
	}
	cs := data.CIFAR10Stats
	if err := data.ImageTensor(red, 3, h, w, cs.Mean, cs.Std, rgb); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("red %.3f, green %.3f, blue %.3f\n", rgb[0], rgb[h*w], rgb[2*h*w])
	// Output:
	// corner -0.810, centre 2.023
	// red 2.059, green -1.980, blue -1.707
}
