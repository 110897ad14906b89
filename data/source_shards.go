package data

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Shards is a split stored as webdataset tar shards: dir/*.tar (in name
// order, e.g. shard-000000.tar), each holding samples as members
// key.jpg (or .jpeg, .png) and key.cls (the class index as decimal text).
// The tar headers are scanned once to find every member's offset, and a
// sample is read from its shard by offset, so samples can be visited in
// any order.
type Shards struct {
	dir     string
	classes []string
	files   []*os.File
	refs    []sampleRef
}

// OpenShards scans and checks a shard folder. The classes are given
// (the training split's, for a test split), else read from classes.txt
// beside the folder (one name per line), else numbered 0..max label. A
// sample without a label, with a label outside the classes, or whose
// image does not decode is left out and reported, as are members without
// an image.
func OpenShards(dir string, classes []string, o SourceOptions) (_ *Shards, _ *IndexReport, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	if len(paths) == 0 {
		return nil, nil, fileErr(dir, ErrEmpty, "no .tar shards")
	}
	s := &Shards{dir: dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	fixed := classes != nil
	if !fixed {
		if classes, err = readClassList(filepath.Join(filepath.Dir(filepath.Clean(dir)), "classes.txt")); err != nil {
			return nil, nil, err
		}
		fixed = classes != nil
	}
	var refs []sampleRef
	labels := map[int]int64{} // ref index -> label read
	for _, p := range paths {
		if refs, err = s.scanShard(p, refs, labels); err != nil {
			return nil, nil, err
		}
	}
	if !fixed {
		k := int64(-1)
		for _, l := range labels {
			if l < maxNumberedClasses { // a larger label is reported below
				k = max(k, l)
			}
		}
		classes = classNames(int(k + 1))
	}
	s.classes = classes
	for i := range refs {
		l, ok := labels[i]
		switch {
		case refs[i].err != nil:
		case !ok:
			refs[i].err = fileErr(refs[i].name, ErrLabel, "no .cls member for this sample")
		case l < 0 || l >= int64(len(classes)):
			refs[i].err = fileErr(refs[i].name, ErrLabel, "label %d outside [0, %d)", l, len(classes))
		default:
			refs[i].label = int32(l)
		}
	}
	var rep *IndexReport
	read := func(i int, buf []byte) ([]byte, error) { return s.readRef(&refs[i], buf) }
	s.refs, rep = buildIndex(dir, indexCachePath(dir), refs, classes, read, o)
	if len(s.refs) == 0 {
		return nil, rep, fmt.Errorf("%w\ndata: %s: no usable sample", rep.Err(), dir)
	}
	return s, rep, nil
}

// maxNumberedClasses bounds the classes numbered from the labels when no
// class names are given: one stray label must not allocate billions of
// names.
const maxNumberedClasses = 1 << 20

// posReader counts the bytes read and seeked past, so the offset of a
// member's data is known when tar.Reader.Next returns (tar skips data by
// seeking when it can).
type posReader struct {
	f   *os.File
	pos int64
}

func (r *posReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *posReader) Seek(off int64, whence int) (int64, error) {
	n, err := r.f.Seek(off, whence)
	if err == nil {
		r.pos = n
	}
	return n, err
}

// scanShard appends the samples of one shard.
func (s *Shards) scanShard(path string, refs []sampleRef, labels map[int]int64) ([]sampleRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	s.files = append(s.files, f)
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	stamp := statStamp(st)
	fileIdx := int32(len(s.files) - 1)
	base := filepath.Base(path)
	pr := &posReader{f: f}
	tr := tar.NewReader(pr)
	byKey := map[string]int{}
	pendingCls := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fileErrWrap(path, ErrCorrupt, err, "reading the tar headers")
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		key, ext := splitKey(h.Name)
		switch ext {
		case "jpg", "jpeg", "png":
			name := path + ":" + h.Name
			r := sampleRef{name: name, key: base + ":" + h.Name, stamp: stamp, file: fileIdx, off: pr.pos, size: h.Size}
			if h.Size > int64(st.Size()) {
				r.err = fileErr(name, ErrTruncated, "member of %d bytes in a %d-byte shard", h.Size, st.Size())
			}
			byKey[key] = len(refs)
			refs = append(refs, r)
			if l, ok := pendingCls[key]; ok {
				labels[len(refs)-1] = l
			}
		case "cls":
			b, err := io.ReadAll(io.LimitReader(tr, 64))
			l, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil || perr != nil {
				l = -1 // reported as out of range
			}
			if i, ok := byKey[key]; ok {
				labels[i] = l
			} else {
				pendingCls[key] = l
			}
		}
	}
	return refs, nil
}

// splitKey splits a webdataset member name into its key (everything
// before the first dot of the base name) and its extension.
func splitKey(name string) (key, ext string) {
	dir, base := filepath.Split(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		return dir + base[:i], strings.ToLower(base[i+1:])
	}
	return name, ""
}

// readClassList reads class names, one per line; nil when the file does
// not exist.
func readClassList(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fileErrWrap(path, ErrCorrupt, err, "reading class names")
	}
	if len(out) == 0 {
		return nil, fileErr(path, ErrEmpty, "no class names")
	}
	return out, nil
}

// Len is the number of usable samples.
func (s *Shards) Len() int { return len(s.refs) }

// Classes names the classes.
func (s *Shards) Classes() []string { return s.classes }

// Label is sample i's class.
func (s *Shards) Label(i int) int32 { return s.refs[i].label }

// Name is sample i's shard and member.
func (s *Shards) Name(i int) string { return s.refs[i].name }

// Read reads sample i's image member.
func (s *Shards) Read(i int, buf []byte) ([]byte, error) { return s.readRef(&s.refs[i], buf) }

func (s *Shards) readRef(r *sampleRef, buf []byte) ([]byte, error) {
	buf = grow(buf, int(r.size))
	if _, err := s.files[r.file].ReadAt(buf, r.off); err != nil {
		return nil, fileErrWrap(r.name, ErrTruncated, err, "reading %d bytes at offset %d", r.size, r.off)
	}
	return buf, nil
}

// Close closes the shard files.
func (s *Shards) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	return errors.Join(errs...)
}
