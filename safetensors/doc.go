// Package safetensors reads and writes the safetensors tensor file format
// used for nfvk's weights, reference activations and checkpoints.
//
// # Format
//
// A file is an 8-byte little-endian unsigned header length N, then N bytes
// of UTF-8 JSON, then the tensor data. The JSON object maps each tensor name
// to {"dtype": "F32", "shape": [4, 10], "data_offsets": [begin, end]}, with
// offsets counted from the first byte after the header, and may hold a
// "__metadata__" object of string values. All numbers are little-endian.
//
// # Reading
//
// [Open] memory-maps a file (read-only, where the platform allows; it reads
// the file otherwise) and [Parse] takes bytes already in memory. Both
// validate the whole header before returning, so later lookups cannot fail
// for a bad file. They reject, with an error wrapping [ErrMalformed] that
// names the file and tensor and says what is wrong:
//   - data shorter than the 8-byte length, or a header length beyond the
//     data or above [MaxHeaderSize] (no allocation is ever sized from a
//     number the file claims);
//   - a header that is not UTF-8, not JSON, not a single JSON object, or
//     that names a tensor twice;
//   - an entry that is not an object or lacks dtype, shape or data_offsets;
//     a dtype this package does not know (also [ErrUnknownDType]); a
//     negative or non-integer dimension, or a shape whose byte size
//     overflows int64;
//   - data_offsets that are not two non-negative integers with begin <= end
//     and end within the data, or whose length differs from
//     prod(shape) * dtype size;
//   - tensors that overlap, gaps between them, or bytes after the last
//     one (the reference implementation's rule: tensors tile the data);
//   - a __metadata__ value that is not an object of strings.
//
// 0-d scalars (shape []) and empty tensors are valid.
// [File.Bytes] returns a view of the raw bytes; [File.Float32s] and
// [File.Int64s] return converted copies.
//
// # Writing
//
// [Encode] writes to any io.Writer and [WriteFile] replaces a file
// atomically (temporary file, fsync, rename, directory fsync). Both check
// every tensor first (see [ErrInvalidTensor]) and lay data out so that each
// tensor is aligned to its element size.
//
// # Why not a library
//
// The package does not wrap github.com/nlpodyssey/safetensors, which
// otherwise fits (it parses from a []byte, so from a mapping), because it
// decodes the header into a Go map and so silently keeps the last of two
// tensors with the same name, and its errors carry no sentinel and often no
// tensor name.
package safetensors
