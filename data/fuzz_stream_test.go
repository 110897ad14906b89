package data

import (
	"archive/tar"
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The streamed sources' parsers of user files, fuzzed: the index cache
// beside a split folder (a damaged cache is ignored, never a panic) and
// a tar shard's headers, member names and .cls labels.

// FuzzReadIndexCache parses arbitrary bytes as an index cache: nil or
// the entries, which formatted back parse back the same, and whose
// statuses split into an error kind. (In memory: readIndexCache opens
// the file and parses it; writeIndexCache formats it atomically.)
func FuzzReadIndexCache(f *testing.F) {
	refs := []sampleRef{{key: "a/1.jpg", stamp: "120:1700000000000000000"}, {key: "b/x\ty\n.png", stamp: "9:1"}, {key: "c.jpg", stamp: "0:0"}}
	errs := []error{nil, fileErr("b", ErrDecode, "bad huffman code"), errors.New("open c.jpg: permission denied")}
	var seed bytes.Buffer
	formatIndexCache(&seed, fuzzMaxPixels, refs, errs)
	f.Add(seed.Bytes())
	f.Add([]byte(cacheHeader(fuzzMaxPixels) + "\n"))
	f.Add(append([]byte(cacheHeader(fuzzMaxPixels)+"\n1:2\t\"\\x\"\t\"k\"\n"), seed.Bytes()...))
	f.Add([]byte("nfvk-index 1\t65536\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := parseIndexCache(bytes.NewReader(b), fuzzMaxPixels)
		if got == nil {
			return
		}
		keys := slices.Sorted(maps.Keys(got))
		refs := make([]sampleRef, len(keys))
		errs := make([]error, len(keys))
		for i, k := range keys {
			c := got[k]
			refs[i] = sampleRef{key: k, stamp: c.stamp}
			if c.status != "" {
				errs[i] = errors.New(c.status)
			}
			kind, detail := kindOf(c.status)
			if kind == nil || !strings.HasSuffix(c.status, detail) {
				t.Fatalf("status %q split into %v and %q", c.status, kind, detail)
			}
		}
		var again bytes.Buffer
		formatIndexCache(&again, fuzzMaxPixels, refs, errs)
		if back := parseIndexCache(&again, fuzzMaxPixels); !maps.Equal(back, got) {
			t.Fatalf("parsed %v, formatted back and parsed %v", got, back)
		}
	})
}

// TestIndexCacheFile: the cache written beside a folder reads back, and
// a missing or damaged one reads as none.
func TestIndexCacheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".train.nfvk-index")
	refs := []sampleRef{{key: "a.jpg", stamp: "1:2"}, {key: "b.jpg", stamp: "3:4"}}
	if err := writeIndexCache(p, fuzzMaxPixels, refs, []error{nil, fileErr("b.jpg", ErrDecode, "bad")}); err != nil {
		t.Fatal(err)
	}
	want := map[string]cacheLine{"a.jpg": {stamp: "1:2"}, "b.jpg": {stamp: "3:4", status: ErrDecode.Error() + ": bad"}}
	if got := readIndexCache(p, fuzzMaxPixels); !maps.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
	if got := readIndexCache(p, fuzzMaxPixels+1); got != nil {
		t.Errorf("a cache for another pixel cap read as %v", got)
	}
	if got := readIndexCache(p+".missing", fuzzMaxPixels); got != nil {
		t.Errorf("a missing cache read as %v", got)
	}
}

// tarBytes is a tar of members name -> content.
func tarBytes(t testing.TB, members [][2]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzOpenShards opens arbitrary bytes as a folder's one tar shard: an
// error or a source whose every sample has a label among its classes and
// reads back whole, in memory in proportion to the input.
func FuzzOpenShards(f *testing.F) {
	jpg := string(jpegBytes(f, ramp(12, 10, 5)))
	png := string(pngBytes(f, ramp(5, 3, 40)))
	f.Add(tarBytes(f, [][2]string{{"s0.jpg", jpg}, {"s0.cls", "1\n"}, {"s1.cls", "0"}, {"s1.png", png}, {"d/s2.JPEG", jpg}, {"d/s2.cls", "3"}}))
	f.Add(tarBytes(f, [][2]string{{"a.jpg", jpg}, {"a.cls", "-1"}, {"b.jpg", "not a jpeg"}, {"b.cls", "0"}, {"c.cls", "2"}}))
	f.Add(tarBytes(f, [][2]string{{"big.jpg", jpg}, {"big.cls", "9223372036854775807"}}))
	f.Add(tarBytes(f, [][2]string{{"x.jpg", jpg}})[:700])
	dir := filepath.Join(f.TempDir(), "train")
	if err := os.Mkdir(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, "shard-000000.tar"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		var s *Shards
		var err error
		alloc := allocatedBy(func() {
			s, _, err = OpenShards(dir, nil, SourceOptions{MaxPixels: fuzzMaxPixels, Workers: 1, NoCache: true})
		})
		if limit := uint64(16*fuzzMaxPixels + 64*len(b) + 8<<20); alloc > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", alloc, len(b), limit)
		}
		if err != nil {
			return
		}
		defer s.Close()
		if s.Len() == 0 {
			t.Fatal("a source without samples")
		}
		for i := range s.Len() {
			if l := s.Label(i); l < 0 || int(l) >= len(s.Classes()) {
				t.Fatalf("sample %s: label %d outside %d classes", s.Name(i), l, len(s.Classes()))
			}
			if _, err := s.Read(i, nil); err != nil {
				t.Fatalf("sample %s checked good, then: %v", s.Name(i), err)
			}
		}
	})
}
