package engine

/*
#cgo linux LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// The Vulkan loader is process-wide state in the binding (its function
// pointer table), so it is loaded once; everything else is per Device.
var loadOnce struct {
	sync.Once
	err error
}

// loadVulkan opens the runtime Vulkan loader of this OS (loaderLibraries:
// no SDK or -dev package needed to run) and hands its
// vkGetInstanceProcAddr to the binding.
func loadVulkan() error {
	loadOnce.Do(func() {
		if err := openLoader(loaderLibraries); err != nil {
			loadOnce.err = err
			return
		}
		vk.SetGetInstanceProcAddr(C.nfvk_get_instance_proc_addr())
		if err := vk.Init(); err != nil {
			loadOnce.err = fmt.Errorf("%w: %v", ErrNoLoader, err)
		}
	})
	return loadOnce.err
}

// openLoader tries each library in turn and keeps the first that exports
// vkGetInstanceProcAddr. The error names every library tried and why it
// failed, since which one is missing differs by OS and install.
func openLoader(names []string) error {
	var buf [512]C.char
	tried := make([]string, 0, len(names))
	for _, name := range names {
		cname := C.CString(name)
		rc := C.nfvk_load(cname, &buf[0], C.int(len(buf)))
		C.free(unsafe.Pointer(cname))
		if rc == 0 {
			return nil
		}
		// dlerror already starts with the name; say it once.
		why := strings.TrimPrefix(C.GoString(&buf[0]), name+": ")
		tried = append(tried, fmt.Sprintf("%s: %s", name, why))
	}
	return fmt.Errorf("%w: tried %s (%s)", ErrNoLoader, strings.Join(tried, "; "), loaderHint)
}

// cStrings copies Go strings to C; free with freeCStrings.
func cStrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss))
	for i, s := range ss {
		out[i] = C.CString(s)
	}
	return out
}

func freeCStrings(cs []*C.char) {
	for _, c := range cs {
		C.free(unsafe.Pointer(c))
	}
}

// cStringArray returns a C-allocated array of the pointers (cgo forbids
// passing Go memory holding C pointers only when they are Go pointers; a
// C array keeps this simple and valid under every cgocheck mode).
func cStringArray(cs []*C.char) **C.char {
	if len(cs) == 0 {
		return nil
	}
	arr := (**C.char)(C.malloc(C.size_t(len(cs)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	s := unsafe.Slice(arr, len(cs))
	copy(s, cs)
	return arr
}
