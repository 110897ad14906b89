package mpi

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/mpi/mpitest"
)

// TestCollectives runs TestRankCollectives on 3 ranks under mpirun.
func TestCollectives(t *testing.T) {
	if os.Getenv("NFVK_MPI_HELPER") != "" {
		t.Skip("the helper itself runs under mpirun")
	}
	cmd, err := mpitest.Command(3, os.Args[0], "-test.run", "^TestRankCollectives$", "-test.v")
	if err != nil {
		t.Skip(err)
	}
	cmd.Env = append(os.Environ(), "NFVK_MPI_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "--- PASS: TestRankCollectives"); n != 3 {
		t.Fatalf("%d ranks passed, want 3:\n%s", n, out)
	}
}

// TestRankCollectives is one rank of TestCollectives.
func TestRankCollectives(t *testing.T) {
	if os.Getenv("NFVK_MPI_HELPER") == "" {
		t.Skip("runs as a rank of TestCollectives, under mpirun")
	}
	l := Launched()
	if !l.Distributed() || l.Launcher != "open-mpi" {
		t.Fatalf("Launched = %+v under mpirun", l)
	}
	c, err := Init("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finalize()
	if c.Size() != 3 || c.Rank() != l.Rank {
		t.Fatalf("rank %d of %d, launcher says %+v", c.Rank(), c.Size(), l)
	}
	r := float32(c.Rank())
	// Blocking and non-blocking sums, of a length that splits unevenly
	// into the ring's chunks.
	for _, n := range []int{1, 7, 100003} {
		a := make([]float32, n)
		b := make([]float32, n)
		for i := range a {
			a[i] = r + float32(i)
			b[i] = 2*r - float32(i%5)
		}
		if err := c.AllreduceSum(a); err != nil {
			t.Fatal(err)
		}
		req, err := c.IallreduceSum(b)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			if done, err = req.Test(); err != nil {
				t.Fatal(err)
			}
		}
		for i := range a {
			if want := 3 + 3*float32(i); a[i] != want {
				t.Fatalf("n=%d: allreduce[%d] = %v, want %v", n, i, a[i], want)
			}
			if want := 6 - 3*float32(i%5); b[i] != want {
				t.Fatalf("n=%d: iallreduce[%d] = %v, want %v", n, i, b[i], want)
			}
		}
	}
	d := []float64{float64(c.Rank()) + 0.5}
	if err := c.AllreduceSum64(d); err != nil || d[0] != 4.5 {
		t.Fatalf("float64 allreduce = %v, %v", d, err)
	}
	f := []float32{r, r}
	if err := c.Bcast(f, 2); err != nil || f[0] != 2 || f[1] != 2 {
		t.Fatalf("bcast from rank 2 = %v, %v", f, err)
	}
	s := []byte(fmt.Sprintf("rank %d", c.Rank()))
	if err := c.BcastBytes(s, 1); err != nil || string(s) != "rank 1" {
		t.Fatalf("bcast bytes = %q, %v", s, err)
	}
	if err := c.Barrier(); err != nil {
		t.Fatal(err)
	}
}
