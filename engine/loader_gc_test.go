package engine

import (
	"runtime"
	"sync"
	"testing"
)

// The property lists are read while the collector runs flat out: the
// binding's array helpers freed their C copies from GC finalizers that
// could run while the loader was still writing, which crashed the
// process at random under load.
func TestPropertyListsUnderGC(t *testing.T) {
	if err := loadVulkan(); err != nil {
		t.Skipf("no Vulkan loader: %v", err)
	}
	want := instanceExtensions()
	if len(want) == 0 {
		t.Skip("the loader reports no instance extensions")
	}
	stop := make(chan struct{})
	var gc sync.WaitGroup
	gc.Add(1)
	go func() {
		defer gc.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got := instanceExtensions()
				if len(got) != len(want) {
					errs <- "instance extension list changed size under GC"
					return
				}
				for name := range want {
					if !got[name] {
						errs <- "instance extension " + name + " missing under GC"
						return
					}
				}
				_ = instanceLayers()
			}
		}()
	}
	wg.Wait()
	close(stop)
	gc.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	infos, err := Devices()
	if err != nil {
		t.Skipf("no device: %v", err)
	}
	for _, d := range infos {
		if len(d.QueueFamilies) == 0 {
			t.Errorf("device %q: no queue families", d.Name)
		}
	}
}
