package data

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
)

// FolderOptions configure LoadImageFolder.
type FolderOptions struct {
	// Width and Height of the stored images (required).
	Width, Height int
	// Channels is 3 (RGB) or 1 (luma); 0 means 3.
	Channels int
	// CenterCrop keeps the aspect ratio: the largest centred region with
	// the target aspect is resized. Otherwise the whole image is stretched.
	CenterCrop bool
	// MaxPixels rejects images whose header declares more pixels, before
	// decoding allocates them; 0 means 1<<26 (64 megapixels).
	MaxPixels int
}

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

// LoadImageFolder loads dir/<class>/**/<image> files: every subfolder of dir
// is a class, named by the folder, with labels in sorted name order; the
// .jpg, .jpeg and .png files below it (recursively; other files and names
// starting with "." are ignored; symlinks to files and class folders are
// followed) are its samples. Images are decoded, resized with Catmull-Rom to
// Width×Height and stored with intensities in [0, 1]. Transparent pixels
// come out black (premultiplied alpha).
func LoadImageFolder(dir string, opt FolderOptions) (*Dataset, error) {
	if err := CheckImageSize("LoadImageFolder size", opt.Width, opt.Height, 0); err != nil {
		return nil, err
	}
	if opt.Channels == 0 {
		opt.Channels = 3
	}
	if opt.Channels != 1 && opt.Channels != 3 {
		return nil, fmt.Errorf("data: LoadImageFolder channels %d, want 1 or 3", opt.Channels)
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = MaxPixels
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var classes []string
	var files []string
	var labels []int32
	for _, e := range entries { // ReadDir sorts by name
		classDir := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !isDir(classDir, e) {
			continue
		}
		label := int32(len(classes))
		classes = append(classes, e.Name())
		before := len(files)
		refs, err := listClass(classDir, label, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			files = append(files, r.name)
			labels = append(labels, label)
		}
		if len(files) == before {
			return nil, fileErr(classDir, ErrEmpty, "class folder has no .jpg, .jpeg or .png files")
		}
	}
	if len(classes) == 0 {
		return nil, fileErr(dir, ErrEmpty, "no class subfolders")
	}

	ds := &Dataset{
		Images:  make([]float32, len(files)*opt.Channels*opt.Height*opt.Width),
		Labels:  labels,
		N:       len(files),
		C:       opt.Channels,
		H:       opt.Height,
		W:       opt.Width,
		Classes: classes,
	}
	canvas := image.NewRGBA(image.Rect(0, 0, opt.Width, opt.Height))
	for i, p := range files {
		img, err := decodeImage(p, opt.MaxPixels)
		if err != nil {
			return nil, err
		}
		src := img.Bounds()
		if opt.CenterCrop {
			src = centerAspect(src, opt.Width, opt.Height)
		}
		draw.CatmullRom.Scale(canvas, canvas.Bounds(), img, src, draw.Src, nil)
		rgbaToPlanar(ds.Image(i), canvas, opt.Channels)
	}
	return ds, nil
}

// isDir reports whether the entry is a folder or a symlink to one.
func isDir(path string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(path)
		return err == nil && st.IsDir()
	}
	return e.IsDir()
}

// decodeImage checks the declared size before decoding, so a tiny file
// claiming a huge image is refused without allocating it.
func decodeImage(path string, maxPixels int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fileErrWrap(path, ErrDecode, err, "reading header")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPixels/cfg.Height {
		return nil, fileErr(path, ErrDims, "%s declares %dx%d pixels, limit %d", format, cfg.Width, cfg.Height, maxPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fileErrWrap(path, ErrDecode, err, "truncated %s", format)
		}
		return nil, fileErrWrap(path, ErrDecode, err, "decoding %s", format)
	}
	return img, nil
}

// centerAspect returns the largest rectangle centred in r with aspect w:h.
func centerAspect(r image.Rectangle, w, h int) image.Rectangle {
	rw, rh := r.Dx(), r.Dy()
	if rw*h > rh*w { // too wide
		cw := max(1, rh*w/h)
		x0 := r.Min.X + (rw-cw)/2
		return image.Rect(x0, r.Min.Y, x0+cw, r.Max.Y)
	}
	ch := max(1, rw*h/w)
	y0 := r.Min.Y + (rh-ch)/2
	return image.Rect(r.Min.X, y0, r.Max.X, y0+ch)
}

// rgbaToPlanar writes the canvas into dst as C×H×W intensities in [0, 1],
// converting to luma (ITU-R BT.601 weights) when c is 1.
func rgbaToPlanar(dst []float32, m *image.RGBA, c int) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	hw := w * h
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for x := range w {
			r, g, b := row[4*x], row[4*x+1], row[4*x+2]
			i := y*w + x
			if c == 1 {
				dst[i] = (0.299*float32(r) + 0.587*float32(g) + 0.114*float32(b)) / 255
				continue
			}
			dst[i] = unit[r]
			dst[hw+i] = unit[g]
			dst[2*hw+i] = unit[b]
		}
	}
}
