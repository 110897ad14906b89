package data

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Folder is an image-folder split read on demand: dir/<class>/**/<image>
// as LoadImageFolder lists it (classes in sorted name order, .jpg, .jpeg
// and .png files, hidden names skipped, symlinks followed), without
// decoding it into memory.
type Folder struct {
	dir     string
	classes []string
	refs    []sampleRef
}

// OpenFolder lists and checks a split folder: every file is decoded once
// (at the smallest JPEG scale) unless the index cache beside the folder
// already knows it. Bad files are left out and listed in the report (see
// IndexReport.Err); a class folder without images, or no class folder, is
// an error.
func OpenFolder(dir string, o SourceOptions) (*Folder, *IndexReport, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	f := &Folder{dir: dir}
	var refs []sampleRef
	for _, e := range entries { // ReadDir sorts by name
		classDir := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !isDir(classDir, e) {
			continue
		}
		label := int32(len(f.classes))
		f.classes = append(f.classes, e.Name())
		before := len(refs)
		if refs, err = listClass(classDir, label, refs); err != nil {
			return nil, nil, err
		}
		if len(refs) == before {
			return nil, nil, fileErr(classDir, ErrEmpty, "class folder has no .jpg, .jpeg or .png files")
		}
	}
	if len(f.classes) == 0 {
		return nil, nil, fileErr(dir, ErrEmpty, "no class subfolders")
	}
	read := func(i int, buf []byte) ([]byte, error) { return readFile(refs[i].name, buf) }
	var rep *IndexReport
	f.refs, rep = buildIndex(dir, indexCachePath(dir), refs, f.classes, read, o)
	if len(f.refs) == 0 {
		return nil, rep, fmt.Errorf("%w\ndata: %s: no usable image", rep.Err(), dir)
	}
	return f, rep, nil
}

// listClass appends the images below classDir (walking a symlinked class
// folder's target).
func listClass(classDir string, label int32, refs []sampleRef) ([]sampleRef, error) {
	root, err := filepath.EvalSymlinks(classDir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !imageExts[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		r := sampleRef{name: p, key: filepath.Join(filepath.Base(classDir), rel), label: label, file: -1}
		st, err := os.Stat(p)
		switch {
		case err != nil: // a dangling link, say: an image that cannot be read
			r.err = fileErrWrap(p, ErrTruncated, err, "unreadable")
		case !st.Mode().IsRegular():
			return nil // a folder named like an image
		default:
			r.stamp, r.size = statStamp(st), st.Size()
		}
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return refs, nil
}

// readFile reads a whole file into buf (grown when short).
func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	buf = grow(buf, int(st.Size()))
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fileErrWrap(path, ErrTruncated, err, "reading %d bytes", st.Size())
	}
	return buf, nil
}

// Len is the number of usable images.
func (f *Folder) Len() int { return len(f.refs) }

// Classes are the class folder names, sorted.
func (f *Folder) Classes() []string { return f.classes }

// Label is image i's class.
func (f *Folder) Label(i int) int32 { return f.refs[i].label }

// Name is image i's path.
func (f *Folder) Name(i int) string { return f.refs[i].name }

// Read reads image i's file.
func (f *Folder) Read(i int, buf []byte) ([]byte, error) { return readFile(f.refs[i].name, buf) }

// OpenSplits opens DIR/train and DIR/val (or DIR/test) with open (OpenFolder or
// OpenShards with the training classes) and checks that both splits have
// the same classes.
func OpenSplits(dir string, open func(split string, classes []string) (Source, *IndexReport, error)) (train, test Source, reps []*IndexReport, err error) {
	train, rep, err := open(filepath.Join(dir, "train"), nil)
	if rep != nil {
		reps = append(reps, rep)
	}
	if err != nil {
		return nil, nil, reps, err
	}
	testDir := filepath.Join(dir, "val")
	if _, err := os.Stat(testDir); err != nil {
		testDir = filepath.Join(dir, "test")
	}
	test, rep, err = open(testDir, train.Classes())
	if rep != nil {
		reps = append(reps, rep)
	}
	if err != nil {
		return nil, nil, reps, err
	}
	if !slices.Equal(train.Classes(), test.Classes()) {
		return nil, nil, reps, fileErr(testDir, ErrDims, "classes %v differ from the training split's %v", test.Classes(), train.Classes())
	}
	return train, test, reps, nil
}
