package data

import (
	"archive/tar"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteShards writes a source as webdataset tar shards of perShard
// samples, dir/shard-000000.tar onwards, in the source's order: sample i
// is member %09d.<ext> with its label in %09d.cls. OpenShards on dir
// then visits the same samples in the same order, so a run on the shards
// reproduces a run on the source. Each shard is written atomically.
func WriteShards(src Source, dir string, perShard int) error {
	if perShard <= 0 {
		return fmt.Errorf("data: write shards: %d samples per shard, want > 0", perShard)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data: write shards: %w", err)
	}
	var buf []byte
	for first := 0; first < src.Len(); first += perShard {
		path := filepath.Join(dir, fmt.Sprintf("shard-%06d.tar", first/perShard))
		err := writeAtomic(path, func(w *bufio.Writer) error {
			tw := tar.NewWriter(w)
			for i := first; i < min(first+perShard, src.Len()); i++ {
				var err error
				if buf, err = src.Read(i, buf); err != nil {
					return err
				}
				ext := strings.ToLower(filepath.Ext(src.Name(i)))
				if ext == "" || ext == ".jpeg" {
					ext = ".jpg"
				}
				key := fmt.Sprintf("%09d", i)
				cls := strconv.Itoa(int(src.Label(i))) + "\n"
				for _, m := range []struct {
					name string
					b    []byte
				}{{key + ext, buf}, {key + ".cls", []byte(cls)}} {
					if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.b)), Typeflag: tar.TypeReg}); err != nil {
						return err
					}
					if _, err := tw.Write(m.b); err != nil {
						return err
					}
				}
			}
			return tw.Close()
		})
		if err != nil {
			return fmt.Errorf("data: write shards: %s: %w", path, err)
		}
	}
	return nil
}

// WriteClassList writes class names one per line (the classes.txt that
// OpenShards reads beside a shard folder), atomically.
func WriteClassList(path string, classes []string) error {
	return writeAtomic(path, func(w *bufio.Writer) error {
		for _, c := range classes {
			if _, err := fmt.Fprintln(w, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeAtomic writes path through a temp file, fsync and rename.
func writeAtomic(path string, write func(*bufio.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
