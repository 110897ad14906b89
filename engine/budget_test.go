package engine

import "testing"

// TestMemoryBudget: the budget is within the heap, and allocating a
// buffer shows in the usage when the driver reports it.
func TestMemoryBudget(t *testing.T) {
	d := openTest(t)
	before := d.MemoryBudget()
	t.Logf("%+v", before)
	if before.HeapSize == 0 || before.Budget == 0 || before.Budget > before.HeapSize || before.MaxBufferRange == 0 {
		t.Fatalf("budget %+v: want a non-zero budget within the heap and a buffer range", before)
	}
	b, err := d.NewBuffer("budget-test", 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	after := d.MemoryBudget()
	if before.FromExtension && after.Usage < before.Usage+256<<20 {
		t.Errorf("usage %d after a 256 MiB buffer, was %d", after.Usage, before.Usage)
	}
}
