package data

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// maxDeflateRatio bounds how many bytes one byte of a deflate stream can
// inflate to (the format's limit is about 1032:1). It caps what a gzipped
// file can hold, so a header can never make us plan for more than that.
const maxDeflateRatio = 1032

// source is an opened data file, transparently gunzipped when it starts
// with the gzip magic (the name does not matter).
type source struct {
	path string
	f    *os.File
	r    io.Reader
	gz   bool
	size int64 // bytes on disk
	read int64 // payload bytes consumed so far
}

func openSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %w", err)
	}
	s := &source{path: path, f: f, size: st.Size()}
	br := bufio.NewReaderSize(f, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fileErrWrap(path, ErrCorrupt, err, "gzip header")
		}
		s.r, s.gz = zr, true
	} else {
		s.r = br
	}
	return s, nil
}

func (s *source) Close() error { return s.f.Close() }

// capacity is the most payload bytes the file can possibly hold.
func (s *source) capacity() int64 {
	if !s.gz {
		return s.size
	}
	if s.size > math.MaxInt64/maxDeflateRatio {
		return math.MaxInt64
	}
	return s.size * maxDeflateRatio
}

// remaining is the most payload bytes left after what was read.
func (s *source) remaining() int64 { return s.capacity() - s.read }

func (s *source) kindOf(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return ErrCorrupt
}

// readFull reads exactly n payload bytes. The caller has checked n against
// remaining(); the buffer still grows with the data actually read, so a
// lying gzip header cannot force a large allocation up front.
func (s *source) readFull(n int64, what string) ([]byte, error) {
	if n > s.remaining() {
		return nil, fileErr(s.path, ErrTruncated, "%s needs %d bytes but the file can hold at most %d more", what, n, s.remaining())
	}
	// A plain file was checked to hold n bytes, so allocate them at once.
	// A large gzip payload is first inflated without keeping it, by a
	// second reader that stops at n bytes: a stream shorter than its
	// header claims fails before anything is allocated, and one that
	// holds it is then read into one buffer of its exact size (no
	// doubling, whose copies peak at twice the data).
	initial := n
	if s.gz {
		initial = min(n, 1<<20)
		if n > initial {
			if err := s.proveHolds(n, what); err != nil {
				return nil, err
			}
			initial = n
		}
	}
	buf := make([]byte, 0, initial)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(next, buf)
			buf = next
		}
		m, err := s.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		s.read += int64(m)
		if err != nil && int64(len(buf)) < n {
			return nil, fileErrWrap(s.path, s.kindOf(err), err, "%s: got %d of %d bytes", what, len(buf), n)
		}
	}
	return buf, nil
}

// proveHolds checks that the gzip stream holds n more payload bytes after
// those read so far, inflating them on a second reader of the file into
// a small reused buffer.
func (s *source) proveHolds(n int64, what string) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return fileErrWrap(s.path, ErrCorrupt, err, "gzip header")
	}
	if _, err := io.CopyN(io.Discard, zr, s.read); err != nil {
		return fileErrWrap(s.path, s.kindOf(err), err, "%s: re-reading the first %d bytes", what, s.read)
	}
	got, err := io.CopyN(io.Discard, zr, n)
	if got < n {
		return fileErrWrap(s.path, s.kindOf(err), err, "%s: got %d of %d bytes", what, got, n)
	}
	return nil
}

// expectEOF reports trailing bytes after the data, and for gzip verifies
// the stream checksum (which the reader checks only on reaching EOF).
func (s *source) expectEOF(what string) error {
	var one [1]byte
	n, err := io.ReadFull(s.r, one[:])
	switch {
	case n == 1:
		return fileErr(s.path, ErrDims, "data continues after the %d bytes %s accounts for", s.read, what)
	case errors.Is(err, io.EOF):
		return nil
	default:
		return fileErrWrap(s.path, ErrCorrupt, err, "after %d bytes", s.read)
	}
}
