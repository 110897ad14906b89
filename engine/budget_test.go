package engine

import "testing"

// TestMemoryBudget: the budget is within the heap, with a buffer range.
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
	// Drivers differ in when (and whether) usage reflects an allocation
	// (lavapipe's does not move), so the usage is logged, not checked.
	after := d.MemoryBudget()
	t.Logf("after a 256 MiB buffer: %+v", after)
	if after.HeapSize != before.HeapSize || after.Available() > after.Budget {
		t.Errorf("budget %+v after %+v", after, before)
	}
}
