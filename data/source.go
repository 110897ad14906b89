package data

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
)

// Source is a labelled image set read on demand: sample i is a JPEG or
// PNG file's bytes, decoded only when a batch needs it, so host memory
// holds the index and the batches in flight, never the dataset. Folder
// (an ImageNet-style class-folder tree) and Shards (webdataset tar files)
// implement it. A Source is safe for concurrent use.
type Source interface {
	// Len is the number of samples.
	Len() int
	// Classes names the classes; labels index it.
	Classes() []string
	// Label is sample i's class.
	Label(i int) int32
	// Name names sample i in errors and logs (its file, or shard/member).
	Name(i int) string
	// Read returns sample i's encoded bytes, in buf when it is large
	// enough.
	Read(i int, buf []byte) ([]byte, error)
}

// SourceOptions configure OpenFolder and OpenShards.
type SourceOptions struct {
	// MaxPixels refuses images whose header declares more pixels, before
	// decoding them; 0 means DefaultMaxPixels.
	MaxPixels int
	// Workers check files on that many goroutines (0: every CPU).
	Workers int
	// NoCache neither reads nor writes the index cache.
	NoCache bool
}

func (o SourceOptions) maxPixels() int {
	if o.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

// BadSample is a sample the index pass could not use.
type BadSample struct {
	Name string
	Err  error
}

// IndexReport is what building a source's index found.
type IndexReport struct {
	// Dir is the split folder (or shard folder) indexed.
	Dir string
	// Classes and Counts: the samples of each class that can be used.
	Classes []string
	Counts  []int
	// Bad lists every unusable sample (dropped from the source), with why.
	Bad []BadSample
	// Checked samples were decoded now; Cached ones were known good or bad
	// from the index cache (same file size and modification time).
	Checked, Cached int
	// CacheErr is why the index cache could not be written (the dataset
	// is read-only, say); the source works without it.
	CacheErr error
}

// Err is nil when no sample is bad; otherwise an error naming each bad
// file (the first 20, then a count), for refusing to train on a broken
// dataset until the files are removed or skipped on purpose.
func (r *IndexReport) Err() error {
	if len(r.Bad) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "data: %s: %d bad samples (remove them, or skip them with --skip-bad):", r.Dir, len(r.Bad))
	for i, s := range r.Bad {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(r.Bad)-20)
			break
		}
		fmt.Fprintf(&b, "\n  %v", s.Err)
	}
	return errors.New(b.String())
}

// sampleRef is one sample of an index: where its bytes are and, until
// checked, whether they decode.
type sampleRef struct {
	name  string // for errors: the file path, or shard path/member
	key   string // the cache key: relative to the indexed folder
	stamp string // size and mtime of the file holding it
	label int32
	file  int32 // shards: the tar file; folders: -1
	off   int64 // shards: the member's offset in the tar
	size  int64
	err   error // found bad while listing (a shard's missing label)
}

// checkSamples decodes every sample not known from the cache (at the
// smallest DCT scale: the check needs validity, not pixels) and returns
// each one's error, nil when good.
func checkSamples(refs []sampleRef, cache map[string]cacheLine, read func(i int, buf []byte) ([]byte, error), o SourceOptions) (errs []error, checked int) {
	errs = make([]error, len(refs))
	var todo []int
	for i, r := range refs {
		switch c, ok := cache[r.key]; {
		case r.err != nil:
			errs[i] = r.err
		case ok && c.stamp == r.stamp:
			if c.status != "" {
				kind, detail := kindOf(c.status)
				errs[i] = &FileError{Path: r.name, Kind: kind, Detail: detail + " (from the index cache)"}
			}
		default:
			todo = append(todo, i)
		}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var wg sync.WaitGroup
	var next sync.Mutex
	pos := 0
	for range min(workers, max(len(todo), 1)) {
		wg.Go(func() {
			var buf []byte
			var img RGB8
			for {
				next.Lock()
				if pos == len(todo) {
					next.Unlock()
					return
				}
				i := todo[pos]
				pos++
				next.Unlock()
				b, err := read(i, buf)
				if err == nil {
					buf = b
					_, _, err = decodeImage8(b, refs[i].name, o.maxPixels(), 8, &img)
				}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errs, len(todo)
}

// buildIndex checks refs (with the cache at cachePath), keeps the good
// ones and reports.
func buildIndex(dir, cachePath string, refs []sampleRef, classes []string, read func(i int, buf []byte) ([]byte, error), o SourceOptions) ([]sampleRef, *IndexReport) {
	rep := &IndexReport{Dir: dir, Classes: classes, Counts: make([]int, len(classes))}
	var cache map[string]cacheLine
	if !o.NoCache {
		cache = readIndexCache(cachePath, o.maxPixels())
	}
	errs, checked := checkSamples(refs, cache, read, o)
	rep.Checked, rep.Cached = checked, len(refs)-checked
	good := refs[:0:0]
	for i, r := range refs {
		if errs[i] != nil {
			rep.Bad = append(rep.Bad, BadSample{Name: r.name, Err: errs[i]})
			continue
		}
		good = append(good, r)
		rep.Counts[r.label]++
	}
	if !o.NoCache && checked > 0 {
		rep.CacheErr = writeIndexCache(cachePath, o.maxPixels(), refs, errs)
	}
	return good, rep
}

// statStamp is a file's size and modification time, which decide whether
// its cached check still holds.
func statStamp(fi os.FileInfo) string {
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}

// kindOf splits a cached status "kind: detail" back into the error kind
// (ErrDecode when it names none).
func kindOf(status string) (error, string) {
	for _, k := range []error{ErrBadMagic, ErrDims, ErrCount, ErrLabel, ErrTruncated, ErrCorrupt, ErrDecode, ErrEmpty} {
		if rest, ok := strings.CutPrefix(status, k.Error()+": "); ok {
			return k, rest
		}
	}
	return ErrDecode, status
}
