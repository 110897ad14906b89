package engine

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
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

// loadVulkan opens libvulkan.so.1 (the runtime loader, no -dev package
// needed) and hands its vkGetInstanceProcAddr to the binding.
func loadVulkan() error {
	loadOnce.Do(func() {
		var buf [512]C.char
		if C.nfvk_load(&buf[0], C.int(len(buf))) != 0 {
			loadOnce.err = fmt.Errorf("%w: dlopen libvulkan.so.1: %s (install libvulkan1 and a driver, e.g. mesa-vulkan-drivers)",
				ErrNoLoader, C.GoString(&buf[0]))
			return
		}
		vk.SetGetInstanceProcAddr(C.nfvk_get_instance_proc_addr())
		if err := vk.Init(); err != nil {
			loadOnce.err = fmt.Errorf("%w: %v", ErrNoLoader, err)
		}
	})
	return loadOnce.err
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
