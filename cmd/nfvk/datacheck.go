package main

import "fmt"

// checkSplitShapes refuses splits whose images differ in size or
// channels, naming the files: the idx splits are separate files that may
// come from different datasets.
func checkSplitShapes(name, dir string, s splits) error {
	tr, te := s.train, s.test
	if tr.C == te.C && tr.H == te.H && tr.W == te.W {
		return nil
	}
	trainFiles, testFiles := "training split", "test split"
	if name == "mnist" || name == "fashion-mnist" {
		trainFiles, testFiles = "train-images-idx3-ubyte[.gz]", "t10k-images-idx3-ubyte[.gz]"
	}
	return fmt.Errorf("%s in %s: the test images (%s) are %dx%dx%d, the training images (%s) %dx%dx%d: both splits must come from one dataset",
		name, dir, testFiles, te.C, te.H, te.W, trainFiles, tr.C, tr.H, tr.W)
}
