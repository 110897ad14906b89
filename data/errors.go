package data

import (
	"errors"
	"fmt"
)

// Error kinds. Every loader error caused by the content of a file is a
// *FileError whose Kind is one of these, so callers can test the category
// with errors.Is while the message names the file and the details.
var (
	ErrBadMagic  = errors.New("bad magic")          // not the expected format or element type
	ErrDims      = errors.New("dimension mismatch") // shape differs from what the format or caller requires
	ErrCount     = errors.New("count mismatch")     // images and labels disagree on the number of samples
	ErrLabel     = errors.New("label out of range") // label not in 0..classes-1
	ErrTruncated = errors.New("truncated data")     // the file ends before the data its header announces
	ErrCorrupt   = errors.New("corrupt data")       // compressed stream fails to inflate or checksum
	ErrDecode    = errors.New("undecodable image")  // image decoder rejected the file
	ErrEmpty     = errors.New("no data")            // nothing to load
)

// FileError reports a problem with one input file.
type FileError struct {
	Path   string // the file (or folder) at fault
	Kind   error  // one of the Err* kinds above
	Detail string // what exactly is wrong
	Err    error  // underlying I/O or decoder error, if any
}

func (e *FileError) Error() string {
	s := "data: " + e.Path
	if e.Kind != nil {
		s += ": " + e.Kind.Error()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the kind and the underlying error to errors.Is/As.
func (e *FileError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func fileErr(path string, kind error, format string, args ...any) error {
	return &FileError{Path: path, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

func fileErrWrap(path string, kind, err error, format string, args ...any) error {
	return &FileError{Path: path, Kind: kind, Detail: fmt.Sprintf(format, args...), Err: err}
}
