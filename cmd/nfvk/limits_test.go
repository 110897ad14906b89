package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestTrainRefusesHugeImages: an image size or crop padding beyond the
// pixel cap is refused at once, before any data is read (it used to end
// in Go's fatal out-of-memory).
func TestTrainRefusesHugeImages(t *testing.T) {
	dir := t.TempDir()
	writeFolderData(t, dir, 2)
	for _, args := range [][]string{
		{"--data", "folder", "--data-dir", dir, "--size", "100000"},
		{"--data", "folder", "--data-dir", dir, "--size", "8", "--crop-pad", "2000000000"},
	} {
		var out bytes.Buffer
		start := time.Now()
		err := run(context.Background(), append([]string{"train", "--runs", t.TempDir()}, args...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "more than the limit") || time.Since(start) > 5*time.Second {
			t.Errorf("train %v: %v after %v, want a prompt refusal", args, err, time.Since(start))
		}
	}
}
