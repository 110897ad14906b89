package engine

import (
	"strings"
	"testing"
)

func TestBufferRoundTripAndBounds(t *testing.T) {
	d := openTest(t)
	b, err := d.NewBuffer("x", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 250)
	for i := range want {
		want[i] = float32(i) * 0.5
	}
	if err := Upload(b, want); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 250)
	if err := Download(b, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v != %v", i, got[i], want[i])
		}
	}
	if err := b.Write(996, make([]byte, 8)); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("out-of-range write: %v", err)
	}
	if _, err := d.NewBuffer("zero", 0); err == nil {
		t.Error("zero-size buffer accepted")
	}
	b.Free()
	if err := b.Write(0, []byte{1}); err == nil {
		t.Error("write after Free accepted")
	}
	if st := d.MemoryStats(); st.LiveBytes != 0 {
		t.Errorf("live bytes after Free = %d", st.LiveBytes)
	}
}

func TestArenaSubAllocatesAligned(t *testing.T) {
	d := openTest(t)
	var bufs []*Buffer
	for i := 0; i < 100; i++ {
		b, err := d.NewBuffer("t", int64(1+i*37))
		if err != nil {
			t.Fatal(err)
		}
		if uint64(b.off)%d.info.MinStorageBufferOffsetAlignment != 0 {
			t.Fatalf("buffer %d offset %d not aligned to %d", i, b.off, d.info.MinStorageBufferOffsetAlignment)
		}
		bufs = append(bufs, b)
	}
	if st := d.MemoryStats(); st.Blocks != 1 {
		t.Errorf("100 small buffers used %d blocks, want 1", st.Blocks)
	}
	for _, b := range bufs {
		b.Free()
	}
}
