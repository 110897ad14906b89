// Package data loads image classification datasets into memory and turns
// them into augmented, shuffled, reproducible training batches. It is pure
// Go and touches no GPU.
//
// # Datasets
//
// Every loader returns a *Dataset: N images of C×H×W float32 values in one
// NCHW slice, intensities in [0, 1], with int32 labels indexing Classes.
//
//   - ReadIDX, LoadIDX, LoadMNIST, LoadFashionMNIST: idx files (idx3 images,
//     idx1 labels), gzipped or not, detected by magic.
//   - ReadCIFAR10, LoadCIFAR10: CIFAR-10 binary batches.
//   - LoadImageFolder: a folder of class subfolders of JPEG/PNG images,
//     resized to a fixed size.
//
// # Streamed datasets
//
// A Source reads samples on demand instead: OpenFolder (an ImageNet-style
// split folder) and OpenShards (webdataset tar shards) check every image
// once, cache the result beside the split (see IndexReport), and keep
// only an index in memory. A Stream pairs a Source with a Transform:
// training images get an Inception random-resized crop, a flip and
// RandAugment on 8-bit values; evaluation images a resize to Size+32 and
// a centre crop. JPEGs decode through libjpeg-turbo at a reduced DCT
// scale where the crop allows (Linux cgo builds; image/jpeg otherwise).
// NewStreamPipeline makes batches of a Stream with the same (seed,
// position) determinism as below; WriteShards writes any Source as
// shards.
//
// ComputeStats and Dataset.Normalize standardize the images per channel
// (MNISTStats, FashionMNISTStats and CIFAR10Stats are the published
// training-set values); normalize the test split with the training stats.
// Dataset.SelectClasses keeps a subset of the classes, relabelled in the
// order given (ParseClasses reads "0-4" or class names), for fine-tuning
// on part of a dataset.
//
// Loaders treat files as untrusted. Any malformed input is an error, never
// a panic: a *FileError naming the file and what is wrong, whose kind
// (ErrBadMagic, ErrDims, ErrCount, ErrLabel, ErrTruncated, ErrCorrupt,
// ErrDecode, ErrEmpty) errors.Is can test. Sizes a header announces are
// checked against what the file can hold (its size, or 1032× that for
// gzip, deflate's maximum ratio) before anything is read, and buffers grow
// only with the data actually read, so a hostile header cannot trigger a
// large allocation. Image sizes are checked from the header before
// decoding.
//
// # Batches
//
// A Pipeline makes the batch at any Position (epoch, step) as a pure
// function of Config.Seed: the epoch order is Permutation(N, Seed, epoch),
// a Fisher–Yates shuffle over math/rand/v2's PCG, and each sample's
// augmentation and each batch's mixing draw from PCG streams seeded by
// their coordinates. Resuming from a checkpointed Position (or
// Pipeline.PositionAt(globalStep)) therefore reproduces the uninterrupted
// run bit for bit, whatever the prefetch depth or worker count.
//
// A Loader runs a Pipeline on a goroutine, a few batches ahead of the
// consumer through a bounded channel, stops on Close or context
// cancellation without leaking it, and reuses batches handed to Recycle.
//
// Batches have a fixed size. Config.Remainder chooses DropLast (training:
// the incomplete tail of an epoch is skipped, and reshuffling covers it in
// other epochs) or PadLast (evaluation: the last batch is topped up by
// wrapping around the epoch order, and Batch.Valid counts the real rows).
//
// # Augmentation
//
// Augment is a random crop of the image padded by Pad pixels and an
// optional horizontal flip, expressed as one mgl32 affine map (CropFlip)
// and applied by Warp. Since such maps send pixel centres to pixel
// centres, Warp copies exact integer-shifted (and reversed) rows instead of
// interpolating: the values equal bilinear sampling at those points, with
// no blur and at memcpy speed. Other maps fall back to bilinear sampling.
//
// Mix adds MixUp and CutMix across the batch. Mixed samples need soft
// targets, so a Batch carries both Labels (hard, always set) and Targets
// (an N×K matrix of distributions, set when mixing or label smoothing is
// on). A loss takes Batch.SoftTargets, which returns Targets or one-hot
// rows, or uses Labels directly when Targets is nil.
package data
