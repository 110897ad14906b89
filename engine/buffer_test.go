package engine

import (
	"context"
	"fmt"
	"os"
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
	want := 1
	if d.arena.dedicated() {
		want = 100 // NFVK_VALIDATE=gpu: a block per buffer
	}
	if st := d.MemoryStats(); st.Blocks != want {
		t.Errorf("100 small buffers used %d blocks, want %d", st.Blocks, want)
	}
	for _, b := range bufs {
		b.Free()
	}
}

// TestStagingPath runs the discrete-GPU path (device buffers not mapped,
// uploads and downloads through a staging buffer and transfer commands
// with barriers) on lavapipe, under synchronization validation.
func TestStagingPath(t *testing.T) {
	d, err := Open(Options{Validate: true, DisableUnifiedMemory: true})
	if err != nil {
		t.Skipf("no device: %v", err)
	}
	t.Cleanup(func() {
		d.Close()
		if err := ValidationError(d.ValidationMessages()); err != nil {
			t.Error(err)
		}
	})
	if d.Unified() {
		t.Fatal("DisableUnifiedMemory ignored")
	}
	k := loadTestKernels(t, d)
	n := stagingChunk/4 + 1000 // more than one staging chunk
	x, y := newBuf(t, d, "x", n), newBuf(t, d, "y", n)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(i)
	}
	if err := Upload(x, xs); err != nil {
		t.Fatal(err)
	}
	p := d.NewProgram("staged", ProgramOptions{})
	defer p.Close()
	if err := p.Dispatch("y = 3x", k.axpby, [3]uint32{1024, 1, 1}, push(n, float32(3), float32(0)), In(x), Out(y)); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 2; r++ {
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		ys := read(t, y)
		for i, v := range ys {
			if v != 3*xs[i] {
				t.Fatalf("run %d: y[%d] = %v, want %v", r, i, v, 3*xs[i])
			}
		}
		xs[0] = -1 // a re-upload between runs must be seen by the next run
		if err := Upload(x, xs[:1]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPipelineCacheDirNamesFilePerDevice(t *testing.T) {
	dir := t.TempDir() + "/nfvk"
	d, err := Open(Options{PipelineCacheDir: dir})
	if err != nil {
		t.Skipf("no device: %v", err)
	}
	if _, err := d.Pipeline(shader(t, "fill"), 64); err != nil {
		t.Fatal(err)
	}
	uuid := d.Info().PipelineCacheUUID
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s/pipelines-%x.bin", dir, uuid)
	if st, err := os.Stat(want); err != nil || st.Size() == 0 {
		t.Fatalf("cache %s not written: %v", want, err)
	}
}

func TestPipelineCachePersists(t *testing.T) {
	path := t.TempDir() + "/cache/pipelines.bin"
	for i := 0; i < 2; i++ {
		d, err := Open(Options{PipelineCachePath: path})
		if err != nil {
			t.Skipf("no device: %v", err)
		}
		if _, err := d.Pipeline(shader(t, "fill"), 64); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 {
			t.Fatalf("run %d: cache not saved: %v", i, err)
		}
	}
}
