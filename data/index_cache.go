package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The index cache remembers which samples decoded, so that a large
// dataset is checked once, not at every start. It is a text file beside
// the split folder (DIR/.train.nfvk-index for DIR/train): a header line,
// then one line per sample: its file's size:mtime stamp, "" or the error,
// and its key, tab-separated and Go-quoted. A sample whose file changed is
// checked again.

const indexCacheMagic = "nfvk-index 1"

type cacheLine struct {
	stamp, status string
}

func indexCachePath(dir string) string {
	dir = filepath.Clean(dir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".nfvk-index")
}

// cacheHeader ties the cache to the pixel cap and decoder, which decide
// what is bad.
func cacheHeader(maxPixels int) string {
	return fmt.Sprintf("%s\t%d\t%q", indexCacheMagic, maxPixels, DecoderName())
}

// readIndexCache returns the cached checks, or none when the file is
// missing, of another version, or damaged (it is only a cache).
func readIndexCache(path string, maxPixels int) map[string]cacheLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseIndexCache(f, maxPixels)
}

// parseIndexCache is readIndexCache's parser.
func parseIndexCache(r io.Reader, maxPixels int) map[string]cacheLine {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != cacheHeader(maxPixels) {
		return nil
	}
	out := map[string]cacheLine{}
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) != 3 {
			return nil
		}
		status, err1 := strconv.Unquote(parts[1])
		key, err2 := strconv.Unquote(parts[2])
		if err1 != nil || err2 != nil {
			return nil
		}
		out[key] = cacheLine{stamp: parts[0], status: status}
	}
	if sc.Err() != nil {
		return nil
	}
	return out
}

// writeIndexCache writes the checks atomically.
func writeIndexCache(path string, maxPixels int, refs []sampleRef, errs []error) error {
	err := writeAtomic(path, func(w *bufio.Writer) error {
		formatIndexCache(w, maxPixels, refs, errs)
		return nil
	})
	if err != nil {
		return fmt.Errorf("data: index cache %s: %w", path, err)
	}
	return nil
}

// formatIndexCache writes the cache's lines to w.
func formatIndexCache(w io.Writer, maxPixels int, refs []sampleRef, errs []error) {
	fmt.Fprintln(w, cacheHeader(maxPixels))
	for i, r := range refs {
		status := ""
		if errs[i] != nil {
			var fe *FileError
			if errors.As(errs[i], &fe) && fe.Kind != nil {
				status = fe.Kind.Error() + ": " + fe.Detail
			} else {
				status = errs[i].Error()
			}
		}
		fmt.Fprintf(w, "%s\t%q\t%q\n", r.stamp, status, r.key)
	}
}
