package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ramp is a w×h image whose pixel (x, y) is (x*step, y*step, 100).
func ramp(w, h, step int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * step), uint8(y * step), 100, 255})
		}
	}
	return m
}

// writeImageTree writes DIR/<split>/c<k>/i<j>.png for n images per class.
func writeImageTree(t testing.TB, dir string, splits []string, classes, n, size int) {
	for _, sp := range splits {
		for k := range classes {
			for j := range n {
				m := ramp(size+j, size, 1+k)
				writeFile(t, dir, fmt.Sprintf("%s/c%d/i%02d.png", sp, k, j), pngBytes(t, m))
			}
		}
	}
}

// writeShard writes a webdataset tar of members name -> content.
func writeShard(t testing.TB, path string, members [][2]string) {
	writeFile(t, filepath.Dir(path), filepath.Base(path), tarBytes(t, members))
}

func TestOpenFolderBadFiles(t *testing.T) {
	good := pngBytes(t, solid(4, 4, color.White))
	jpg := jpegBytes(t, ramp(32, 32, 3))
	dir := t.TempDir()
	writeFile(t, dir, "train/a/ok.png", good)
	writeFile(t, dir, "train/a/ok2.jpg", jpg)
	bad := map[string]error{
		writeFile(t, dir, "train/a/empty.jpg", nil):                     ErrEmpty,
		writeFile(t, dir, "train/a/text.jpg", []byte("not an image")):   ErrDecode,
		writeFile(t, dir, "train/b/cut.jpg", jpg[:len(jpg)/2]):          ErrDecode,
		writeFile(t, dir, "train/b/bomb.png", hugePNG(t, 1<<20, 1<<20)): ErrDims,
		writeFile(t, dir, "train/b/cut.png", good[:len(good)-20]):       ErrDecode,
	}
	writeFile(t, dir, "train/b/fine.png", good)
	dangling := filepath.Join(dir, "train", "b", "gone.jpg")
	if err := os.Symlink(filepath.Join(dir, "nowhere.jpg"), dangling); err != nil {
		t.Fatal(err)
	}
	bad[dangling] = ErrTruncated
	for _, cached := range []bool{false, true} {
		f, rep, err := OpenFolder(filepath.Join(dir, "train"), SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Len() != 3 || len(rep.Bad) != len(bad) {
			t.Fatalf("cached %v: %d good, %d bad (%v), want 3 and %d", cached, f.Len(), len(rep.Bad), rep.Bad, len(bad))
		}
		if cached && rep.Checked != 0 {
			t.Errorf("second open checked %d files again, want all from the cache", rep.Checked)
		}
		for _, b := range rep.Bad {
			kind, ok := bad[b.Name]
			if !ok {
				t.Fatalf("unexpected bad file %s: %v", b.Name, b.Err)
			}
			if !strings.Contains(b.Err.Error(), b.Name) {
				t.Errorf("error %q does not name %s", b.Err, b.Name)
			}
			if !errors.Is(b.Err, kind) {
				t.Errorf("%s: %v, want %v", b.Name, b.Err, kind)
			}
		}
		err = rep.Err()
		for name := range bad {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("report error %v does not name %s", err, name)
			}
		}
		if got := fmt.Sprint(rep.Counts); got != "[2 1]" {
			t.Errorf("counts %s, want [2 1]", got)
		}
	}
	// A changed file is checked again.
	writeFile(t, dir, "train/a/text.jpg", good)
	f, rep, err := OpenFolder(filepath.Join(dir, "train"), SourceOptions{})
	if err != nil || f.Len() != 4 || rep.Checked != 1 {
		t.Fatalf("after a fix: %v, checked %d, want 4 good, 1 checked", err, rep.Checked)
	}
}

func TestOpenSplitsErrors(t *testing.T) {
	good := pngBytes(t, solid(4, 4, color.White))
	open := func(dir string, _ []string) (Source, *IndexReport, error) {
		f, rep, err := OpenFolder(dir, SourceOptions{NoCache: true})
		if f == nil {
			return nil, rep, err
		}
		return f, rep, err
	}
	t.Run("empty class", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "train/a/x.png", good)
		empty := filepath.Join(dir, "train", "b")
		writeFile(t, dir, "train/b/notes.txt", []byte("x"))
		_, _, _, err := OpenSplits(dir, open)
		wantFileErr(t, err, ErrEmpty, empty)
	})
	t.Run("classes differ", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "train/a/x.png", good)
		writeFile(t, dir, "train/b/x.png", good)
		writeFile(t, dir, "val/a/x.png", good)
		writeFile(t, dir, "val/c/x.png", good)
		_, _, _, err := OpenSplits(dir, open)
		wantFileErr(t, err, ErrDims, filepath.Join(dir, "val"))
	})
}

func TestOpenShards(t *testing.T) {
	jpg := string(jpegBytes(t, ramp(24, 20, 5)))
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "train", "shard-000000.tar"), [][2]string{
		{"s0.jpg", jpg}, {"s0.cls", "1\n"},
		{"s1.cls", "0"}, {"s1.jpg", jpg}, // label first
		{"nolabel.jpg", jpg},
		{"far.jpg", jpg}, {"far.cls", "7"},
		{"junk.jpg", "not a jpeg"}, {"junk.cls", "0"},
	})
	writeShard(t, filepath.Join(dir, "train", "shard-000001.tar"), [][2]string{{"s2.jpg", jpg}, {"s2.cls", "2"}})
	writeFile(t, dir, "classes.txt", []byte("zero\none\ntwo\n"))
	s, rep, err := OpenShards(filepath.Join(dir, "train"), nil, SourceOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 3 || fmt.Sprint(s.Classes()) != "[zero one two]" {
		t.Fatalf("%d samples, classes %v", s.Len(), s.Classes())
	}
	var labels []int32
	for i := range s.Len() {
		labels = append(labels, s.Label(i))
		b, err := s.Read(i, nil)
		if err != nil || string(b) != jpg {
			t.Fatalf("sample %d (%s): %d bytes, %v", i, s.Name(i), len(b), err)
		}
	}
	if fmt.Sprint(labels) != "[1 0 2]" {
		t.Errorf("labels %v, want [1 0 2]", labels)
	}
	shard0 := filepath.Join(dir, "train", "shard-000000.tar")
	want := map[string]error{shard0 + ":nolabel.jpg": ErrLabel, shard0 + ":far.jpg": ErrLabel, shard0 + ":junk.jpg": ErrDecode}
	if len(rep.Bad) != len(want) {
		t.Fatalf("bad %v, want %v", rep.Bad, want)
	}
	for _, b := range rep.Bad {
		if kind := want[b.Name]; kind == nil || !errors.Is(b.Err, kind) || !strings.Contains(b.Err.Error(), b.Name) {
			t.Errorf("bad sample %s: %v", b.Name, b.Err)
		}
	}
	if _, _, err := OpenShards(t.TempDir(), nil, SourceOptions{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("no shards: %v", err)
	}
	os.Remove(filepath.Join(dir, "classes.txt"))
	s2, _, err := OpenShards(filepath.Join(dir, "train"), nil, SourceOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if len(s2.Classes()) != 8 {
		t.Errorf("without classes.txt: %d classes, want 8 (labels up to 7)", len(s2.Classes()))
	}
}
