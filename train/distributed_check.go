package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/nfvk/nfvk/data"
)

// startCheck is one thing every rank of a data-parallel run must agree
// on, by digest.
type startCheck struct {
	what   string
	digest [sha256.Size]byte
}

// checkRanksAgree compares this rank's program, configuration and data
// with rank 0's before any step, and fails on every rank, naming each
// rank that differs and in what, if any does.
func (l *loop) checkRanksAgree(resumeStep int64) error {
	if l.dist == nil {
		return nil
	}
	checks, err := l.startChecks(resumeStep)
	if err != nil {
		return err
	}
	d := l.dist
	mine := make([]byte, 0, len(checks)*sha256.Size)
	for _, c := range checks {
		mine = append(mine, c.digest[:]...)
	}
	root := append([]byte(nil), mine...)
	if err := d.c.BcastBytes(root, 0); err != nil {
		return fmt.Errorf("train: start-up check: %w", err)
	}
	// Row r of the table is rank r's disagreements with rank 0.
	table := make([]float64, d.size*len(checks))
	for i, c := range checks {
		if string(c.digest[:]) != string(root[i*sha256.Size:(i+1)*sha256.Size]) {
			table[d.rank*len(checks)+i] = 1
		}
	}
	if err := d.c.AllreduceSum64(table); err != nil {
		return fmt.Errorf("train: start-up check: %w", err)
	}
	var bad []string
	for r := range d.size {
		var what []string
		for i, c := range checks {
			if table[r*len(checks)+i] != 0 {
				what = append(what, c.what)
			}
		}
		if len(what) > 0 {
			bad = append(bad, fmt.Sprintf("rank %d differs from rank 0 in %s", r, strings.Join(what, ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("train: the ranks disagree before the first step: %s (run the same binary, flags and data on every rank)", strings.Join(bad, "; "))
	}
	return nil
}

// startChecks digests what the ranks must share: the program, the run's
// recipe and model, the training and test data, the step it starts at,
// and the rank count each was told.
func (l *loop) startChecks(resumeStep int64) ([]startCheck, error) {
	prog, err := programDigest()
	if err != nil {
		return nil, err
	}
	// Where the data lies may differ between machines; what it holds is
	// compared below.
	rec := l.rs.Recipe
	rec.DataDir = ""
	cfg, err := json.Marshal(struct {
		Recipe Recipe
		Model  any
		Step   int64
		Size   int
	}{rec, l.layout.Config, resumeStep, l.dist.size})
	if err != nil {
		return nil, fmt.Errorf("train: start-up check: %w", err)
	}
	checks := []startCheck{
		{"the program (nfvk binary)", prog},
		{"the configuration (model, recipe, start step)", sha256.Sum256(cfg)},
	}
	if l.o.TrainStream != nil {
		checks = append(checks, startCheck{"the training data", streamDigest(l.o.TrainStream)},
			startCheck{"the test data", streamDigest(l.o.TestStream)})
	} else {
		checks = append(checks, startCheck{"the training data", datasetDigest(l.o.Train)},
			startCheck{"the test data", datasetDigest(l.o.Test)})
	}
	return checks, nil
}

// datasetDigest hashes a dataset's shape, class names, labels and
// pixels (their bytes in memory: ranks on machines of another byte order
// differ, as they would in their sums).
func datasetDigest(ds *data.Dataset) [sha256.Size]byte {
	h := sha256.New()
	var b [8]byte
	for _, v := range []int{ds.N, ds.C, ds.H, ds.W} {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	for _, name := range ds.Classes {
		io.WriteString(h, name+"\x00")
	}
	if len(ds.Labels) > 0 {
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&ds.Labels[0])), 4*len(ds.Labels)))
	}
	if len(ds.Images) > 0 {
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&ds.Images[0])), 4*len(ds.Images)))
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// streamDigest hashes a stream's index (its class names and each
// sample's label and file or shard member name without its directory,
// which may differ between machines) and the encoded bytes of up to
// digestSamples samples spread over it: a dataset streamed from disk can
// be far too large to read whole at start-up.
const digestSamples = 256

func streamDigest(st *data.Stream) [sha256.Size]byte {
	h := sha256.New()
	src := st.Source()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(src.Len()))
	h.Write(b[:])
	for _, name := range src.Classes() {
		io.WriteString(h, name+"\x00")
	}
	for i := range src.Len() {
		binary.LittleEndian.PutUint32(b[:4], uint32(src.Label(i)))
		h.Write(b[:4])
		io.WriteString(h, filepath.Base(src.Name(i))+"\x00")
	}
	var buf []byte
	for j := range min(src.Len(), digestSamples) {
		var err error
		if buf, err = src.Read(j*src.Len()/min(src.Len(), digestSamples), buf); err != nil {
			io.WriteString(h, err.Error()) // the run fails on it later; here it is a difference
		}
		h.Write(buf)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// programDigest hashes the running executable's file (two builds of the
// same source differ only if their code does), or, where it cannot be
// read, the module build information.
func programDigest() ([sha256.Size]byte, error) {
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err == nil {
				var out [sha256.Size]byte
				h.Sum(out[:0])
				return out, nil
			}
		}
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return [sha256.Size]byte{}, fmt.Errorf("train: start-up check: no executable and no build information to compare")
	}
	return sha256.Sum256([]byte(bi.String())), nil
}
