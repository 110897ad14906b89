package data

import (
	"errors"
	"fmt"
)

// classSubset is a Source restricted to some classes, relabelled.
type classSubset struct {
	src     Source
	keep    []int   // source index of each sample
	labels  []int32 // new labels
	classes []string
}

// SelectSourceClasses is Dataset.SelectClasses for a streaming source:
// the samples of the given classes (indices into src.Classes()), in
// their order in src, relabelled 0..k-1 in the order given.
func SelectSourceClasses(src Source, classes []int) (Source, error) {
	if len(classes) == 0 {
		return nil, errors.New("data: select classes: no classes given")
	}
	names := src.Classes()
	k := len(names)
	relabel := make([]int32, k) // old label -> new label + 1 (0: dropped)
	s := &classSubset{src: src}
	for j, c := range classes {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("data: select classes: class %d out of range: the dataset has %d classes (0..%d)", c, k, k-1)
		}
		if relabel[c] != 0 {
			return nil, fmt.Errorf("data: select classes: class %d (%s) given twice", c, names[c])
		}
		relabel[c] = int32(j) + 1
		s.classes = append(s.classes, names[c])
	}
	for i := range src.Len() {
		if l := src.Label(i); relabel[l] != 0 {
			s.keep = append(s.keep, i)
			s.labels = append(s.labels, relabel[l]-1)
		}
	}
	if len(s.keep) == 0 {
		return nil, fmt.Errorf("data: select classes: no samples of classes %v", classes)
	}
	return s, nil
}

func (s *classSubset) Len() int                               { return len(s.keep) }
func (s *classSubset) Classes() []string                      { return s.classes }
func (s *classSubset) Label(i int) int32                      { return s.labels[i] }
func (s *classSubset) Name(i int) string                      { return s.src.Name(s.keep[i]) }
func (s *classSubset) Read(i int, buf []byte) ([]byte, error) { return s.src.Read(s.keep[i], buf) }

// fileList is a Source of image files with no labels (all class 0).
type fileList []string

// FileList is a Source of the given image files, every one labelled 0
// of one class "?": a stream of them gives images exactly as a model's
// evaluation transform would (for prediction).
func FileList(paths []string) Source { return fileList(paths) }

func (f fileList) Len() int                               { return len(f) }
func (f fileList) Classes() []string                      { return []string{"?"} }
func (f fileList) Label(int) int32                        { return 0 }
func (f fileList) Name(i int) string                      { return f[i] }
func (f fileList) Read(i int, buf []byte) ([]byte, error) { return readFile(f[i], buf) }
