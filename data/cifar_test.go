package data

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
)

// cifarRecords makes n records; record i has label labels[i] and pixel
// value (i + channel) at every position of each channel.
func cifarRecords(labels ...byte) []byte {
	var out []byte
	for i, l := range labels {
		out = append(out, l)
		for c := range 3 {
			for range cifarSide * cifarSide {
				out = append(out, byte(10*i+c))
			}
		}
	}
	return out
}

func TestLoadCIFAR10(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		writeFile(t, dir, "data_batch_"+string(rune('0'+i))+".bin", cifarRecords(byte(i), 9))
	}
	writeFile(t, dir, "test_batch.bin", cifarRecords(0, 1, 2))

	d, err := LoadCIFAR10(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 10 || d.C != 3 || d.H != 32 || d.W != 32 || d.NumClasses() != 10 {
		t.Fatalf("shape %dx%dx%dx%d, %d classes", d.N, d.C, d.H, d.W, d.NumClasses())
	}
	if !slices.Equal(d.Labels, []int32{1, 9, 2, 9, 3, 9, 4, 9, 5, 9}) {
		t.Fatalf("labels %v", d.Labels)
	}
	// Sample 1 of the first file: channel c holds 10+c everywhere (CHW).
	img := d.Image(1)
	for c := range 3 {
		for _, v := range img[c*1024 : (c+1)*1024] {
			if want := float32(10+c) / 255; v != want {
				t.Fatalf("channel %d value %v, want %v", c, v, want)
			}
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}

	d, err = LoadCIFAR10(dir, Test)
	if err != nil || d.N != 3 || d.Classes[0] != "airplane" {
		t.Fatalf("test split: %v, %+v", err, d)
	}
}

func TestReadCIFAR10Corrupt(t *testing.T) {
	good := cifarRecords(1, 2)
	for _, tc := range []struct {
		name    string
		content []byte
		kind    error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated record", good[:len(good)-1], ErrTruncated},
		{"extra bytes", append(slices.Clone(good), 0), ErrTruncated},
		{"label out of range", cifarRecords(3, 10), ErrLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ok := writeFile(t, dir, "data_batch_1.bin", good)
			bad := writeFile(t, dir, "data_batch_2.bin", tc.content)
			_, err := ReadCIFAR10(ok, bad)
			wantFileErr(t, err, tc.kind, bad)
		})
	}
	if _, err := LoadCIFAR10(t.TempDir(), Test); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
	if _, err := ReadCIFAR10(); err == nil {
		t.Fatal("no files accepted")
	}
}
