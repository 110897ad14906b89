package engine

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// MaxBindings is the number of storage-buffer bindings of the one
// descriptor-set layout every pipeline shares (binding i = shader binding i).
const MaxBindings = 12

// PushConstantBytes is the push-constant block size every pipeline
// declares: Vulkan guarantees 128 bytes on every device.
const PushConstantBytes = 128

// Shader is a compute shader: a name (for errors and the cache key) and
// its SPIR-V. Its entry point is "main"; its storage buffers are set 0,
// bindings 0..MaxBindings-1; specialization constant i has constant_id i.
type Shader struct {
	Name  string
	SPIRV []byte
}

// Pipeline is a compute pipeline: a shader with its specialization
// constants. Pipelines are owned by the Device and cached.
type Pipeline struct {
	shader string
	spec   []uint32
	p      vk.Pipeline
}

func (p *Pipeline) String() string { return fmt.Sprintf("%s%v", p.shader, p.spec) }

// Shader is the name of the pipeline's shader.
func (p *Pipeline) Shader() string { return p.shader }

type pipelineKey struct {
	name string
	spec string
}

type pipelineCache struct {
	dev   *Device
	cache vk.PipelineCache
	mu    sync.Mutex
	m     map[pipelineKey]*Pipeline
}

func newPipelineCache(d *Device, path string) (*pipelineCache, error) {
	var c vk.PipelineCache
	ci := vk.PipelineCacheCreateInfo{SType: vk.StructureTypePipelineCacheCreateInfo}
	if path != "" {
		// A missing or unreadable cache is not an error: it is rebuilt.
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			cdata := C.malloc(C.size_t(len(data)))
			defer C.free(cdata)
			C.memcpy(cdata, unsafe.Pointer(&data[0]), C.size_t(len(data)))
			ci.InitialDataSize = uint(len(data))
			ci.PInitialData = cdata
		}
	}
	err := check("vkCreatePipelineCache", vk.CreatePipelineCache(d.vkDevice(), &ci, nil, &c))
	ci.Free()
	if err != nil {
		return nil, err
	}
	return &pipelineCache{dev: d, cache: c, m: map[pipelineKey]*Pipeline{}}, nil
}

// save writes the driver's pipeline cache to path (temp file, fsync,
// rename), so a crash never leaves a truncated cache.
func (c *pipelineCache) save(path string) error {
	if path == "" {
		return nil
	}
	dev := c.dev.vkDevice()
	var n uint
	if err := check("vkGetPipelineCacheData", vk.GetPipelineCacheData(dev, c.cache, &n, nil)); err != nil || n == 0 {
		return err
	}
	buf := C.malloc(C.size_t(n))
	defer C.free(buf)
	if err := check("vkGetPipelineCacheData", vk.GetPipelineCacheData(dev, c.cache, &n, buf)); err != nil {
		return err
	}
	data := C.GoBytes(buf, C.int(n))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save pipeline cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pipelines-*")
	if err != nil {
		return fmt.Errorf("save pipeline cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save pipeline cache %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save pipeline cache %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save pipeline cache %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save pipeline cache: %w", err)
	}
	return nil
}

func (c *pipelineCache) destroy() {
	dev := c.dev.vkDevice()
	for _, p := range c.m {
		vk.DestroyPipeline(dev, p.p, nil)
	}
	c.m = nil
	vk.DestroyPipelineCache(dev, c.cache, nil)
}

// Pipeline returns the pipeline of s with the given specialization
// constants (constant_id i = spec[i]), creating it on first use.
func (d *Device) Pipeline(s *Shader, spec ...uint32) (*Pipeline, error) {
	c := d.pipelines
	key := pipelineKey{s.Name, string(asBytes(spec))}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[key]; ok {
		return p, nil
	}
	if len(s.SPIRV) == 0 || len(s.SPIRV)%4 != 0 || binary.LittleEndian.Uint32(s.SPIRV) != 0x07230203 {
		return nil, fmt.Errorf("pipeline %s: not SPIR-V (%d bytes)", s.Name, len(s.SPIRV))
	}
	if len(spec) > 64 {
		return nil, fmt.Errorf("pipeline %s: %d specialization constants, at most 64", s.Name, len(spec))
	}
	// Code and constants go to C memory: the driver reads them during the call.
	code := C.malloc(C.size_t(len(s.SPIRV)))
	defer C.free(code)
	C.memcpy(code, unsafe.Pointer(&s.SPIRV[0]), C.size_t(len(s.SPIRV)))
	var cspec *C.uint32_t
	if len(spec) > 0 {
		cspec = (*C.uint32_t)(C.malloc(C.size_t(4 * len(spec))))
		defer C.free(unsafe.Pointer(cspec))
		copy(unsafe.Slice((*uint32)(unsafe.Pointer(cspec)), len(spec)), spec)
	}
	var vp C.VkPipeline
	r := C.nfvk_create_compute_pipeline(d.fns, C.VkPipelineCache(unsafe.Pointer(c.cache)), (*C.uint32_t)(code), C.size_t(len(s.SPIRV)),
		C.VkPipelineLayout(unsafe.Pointer(d.plLayout)), cspec, C.uint32_t(len(spec)), &vp)
	if err := check("vkCreateComputePipelines", vk.Result(r)); err != nil {
		return nil, fmt.Errorf("pipeline %s%v: %w", s.Name, spec, err)
	}
	p := &Pipeline{shader: s.Name, spec: append([]uint32(nil), spec...), p: vk.Pipeline(unsafe.Pointer(vp))}
	c.m[key] = p
	return p, nil
}

// createLayouts makes the descriptor-set layout (MaxBindings storage
// buffers) and pipeline layout (one set, 128 bytes of push constants)
// shared by every pipeline, as ggml does: one layout, shapes in push
// constants.
func (d *Device) createLayouts() error {
	d.maxBind = MaxBindings
	if lim := int(d.info.MaxStorageBuffersPerStage); lim < d.maxBind {
		d.maxBind = lim
	}
	push := uint32(PushConstantBytes)
	if d.info.MaxPushConstantsSize < push {
		push = d.info.MaxPushConstantsSize
	}
	var sl C.VkDescriptorSetLayout
	var pl C.VkPipelineLayout
	if err := check("create descriptor-set and pipeline layouts", vk.Result(C.nfvk_create_layouts(d.fns, C.uint32_t(d.maxBind), C.uint32_t(push), &sl, &pl))); err != nil {
		return err
	}
	d.setLayout = vk.DescriptorSetLayout(unsafe.Pointer(sl))
	d.plLayout = vk.PipelineLayout(unsafe.Pointer(pl))
	return nil
}
