package safetensors

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns names the file (when it
// has one) and the tensor concerned, and wraps one or more of these so that
// callers can test for them with errors.Is.
var (
	// ErrMalformed is wrapped by every error that Parse and Open return for
	// data that is not a valid safetensors file.
	ErrMalformed = errors.New("malformed safetensors data")

	// ErrUnknownDType marks a dtype this package does not support, in a
	// header (together with ErrMalformed) or in a Tensor given to Encode
	// (together with ErrInvalidTensor).
	ErrUnknownDType = errors.New("unknown dtype")

	// ErrNotFound is returned when a file holds no tensor of the given name.
	ErrNotFound = errors.New("no such tensor")

	// ErrDType is returned when a tensor's dtype cannot be converted to the
	// requested Go type (Float32s of an I64 tensor, for example).
	ErrDType = errors.New("dtype not convertible")

	// ErrClosed is returned when tensor data is requested from a closed File.
	ErrClosed = errors.New("file already closed")

	// ErrInvalidTensor is wrapped by every error Encode and WriteFile return
	// for tensors or metadata that cannot be written.
	ErrInvalidTensor = errors.New("invalid tensor")
)

// where is the "safetensors PATH" prefix of an error message; path may be
// empty when the data did not come from a file.
func where(path string) string {
	if path == "" {
		return "safetensors"
	}
	return "safetensors " + path
}

// newError formats "safetensors PATH: MESSAGE: SENTINEL[: ErrMalformed]".
// A sentinel other than ErrMalformed is wrapped together with ErrMalformed
// when malformed is true.
func newError(path string, sentinel error, malformed bool, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if malformed && sentinel != ErrMalformed {
		return fmt.Errorf("%s: %s: %w: %w", where(path), msg, sentinel, ErrMalformed)
	}
	return fmt.Errorf("%s: %s: %w", where(path), msg, sentinel)
}
