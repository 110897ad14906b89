package train

import (
	"bytes"
	"testing"

	"github.com/nfvk/nfvk/safetensors"
)

// FuzzDecodeCheckpoint feeds checkpoint files (safetensors with the
// checkpoint's metadata) to the decoder: it must never panic, and what it
// accepts must encode again to a checkpoint that decodes the same.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(writeCheckpointBytes(f, makeCheckpoint(f, tinyConfig(f), 7)))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := safetensors.Parse(b)
		if err != nil {
			return // the container's own fuzz target covers this
		}
		c, err := decodeCheckpoint(file)
		if err != nil {
			return
		}
		tensors, meta, err := c.encode()
		if err != nil {
			t.Fatalf("cannot encode what decodeCheckpoint accepted: %v", err)
		}
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, tensors, meta); err != nil {
			t.Fatal(err)
		}
		again, err := safetensors.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		c2, err := decodeCheckpoint(again)
		if err != nil {
			t.Fatalf("cannot decode what encode wrote: %v", err)
		}
		if !equalCheckpoints(c, c2) {
			t.Fatal("the checkpoint changed in a round trip")
		}
	})
}
