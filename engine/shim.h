// Small C shim owned by package engine: the Vulkan entry points that
// github.com/vulkan-go/vulkan lacks (Vulkan 1.1+ queries, debug utils), and
// the per-step hot path (recording, submit, fence wait) called without the
// binding's per-call C allocations.
#ifndef NFVK_SHIM_H
#define NFVK_SHIM_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>
#include <stdint.h>

int nfvk_load(const char *name, char *err, int errlen);
void *nfvk_get_instance_proc_addr(void);
uint32_t nfvk_instance_version(void);

VkResult nfvk_create_instance(uint32_t api_version, const char **layers, uint32_t nlayers,
                              const char **exts, uint32_t nexts, uint32_t flags, uint32_t gpu_assisted,
                              VkInstance *out);
void nfvk_destroy_instance(VkInstance inst);

/* Property lists, written into caller memory (the binding's versions free
   their C arrays from GC finalizers that can run before the call returns). */
VkResult nfvk_instance_extensions(uint32_t *n, VkExtensionProperties *out);
VkResult nfvk_instance_layers(uint32_t *n, VkLayerProperties *out);
VkResult nfvk_device_extensions(VkInstance inst, VkPhysicalDevice pd, uint32_t *n, VkExtensionProperties *out);
void nfvk_queue_families(VkInstance inst, VkPhysicalDevice pd, uint32_t *n, VkQueueFamilyProperties *out);

VkResult nfvk_create_messenger(VkInstance inst, uintptr_t handle, VkDebugUtilsMessengerEXT *out);
void nfvk_destroy_messenger(VkInstance inst, VkDebugUtilsMessengerEXT m);

typedef struct {
	uint32_t subgroup_size;
	uint32_t subgroup_stages;
	uint32_t subgroup_ops;
	uint32_t shader_float16;
	uint32_t shader_int8;
	uint32_t storage_buffer_16bit;
	uint32_t driver_id;
	uint64_t max_memory_allocation_size; /* 0 when unknown (Vulkan 1.0) */
	uint64_t max_buffer_size;            /* 0 when unknown (before 1.3) */
	char driver_name[256];
	char driver_info[256];
} nfvk_extra_info;

void nfvk_physical_extra(VkInstance inst, VkPhysicalDevice pd, uint32_t api_version, nfvk_extra_info *out);

VkResult nfvk_create_device(VkInstance inst, VkPhysicalDevice pd, uint32_t queue_family,
                            uint32_t enable_f16, uint32_t enable_storage16, const char **exts, uint32_t nexts,
                            VkDevice *out);

typedef struct nfvk_dev nfvk_dev;
nfvk_dev *nfvk_device_fns(VkInstance inst, VkDevice dev);
void nfvk_device_free(nfvk_dev *d);
void nfvk_destroy_device(nfvk_dev *d);

VkResult nfvk_create_layouts(nfvk_dev *d, uint32_t nbindings, uint32_t push_size, VkDescriptorSetLayout *set_layout,
                             VkPipelineLayout *pipeline_layout);
VkResult nfvk_invalidate_memory(nfvk_dev *d, VkDeviceMemory mem);

VkResult nfvk_create_compute_pipeline(nfvk_dev *d, VkPipelineCache cache, const uint32_t *code, size_t code_size,
                                      VkPipelineLayout layout, const uint32_t *spec, uint32_t nspec,
                                      VkPipeline *out);

void nfvk_cmd_dispatch(nfvk_dev *d, VkCommandBuffer cb, VkPipeline p, VkPipelineLayout layout,
                       VkDescriptorSet set, const void *push, uint32_t push_size,
                       uint32_t gx, uint32_t gy, uint32_t gz);
void nfvk_cmd_barrier(nfvk_dev *d, VkCommandBuffer cb, VkPipelineStageFlags src_stage,
                      VkPipelineStageFlags dst_stage, VkAccessFlags src_access, VkAccessFlags dst_access);
void nfvk_cmd_reset_queries(nfvk_dev *d, VkCommandBuffer cb, VkQueryPool pool, uint32_t first, uint32_t count);
void nfvk_cmd_timestamp(nfvk_dev *d, VkCommandBuffer cb, VkPipelineStageFlagBits stage, VkQueryPool pool, uint32_t q);
void nfvk_cmd_copy(nfvk_dev *d, VkCommandBuffer cb, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
                   VkDeviceSize dst_off, VkDeviceSize size);
VkResult nfvk_create_descriptor_pool(nfvk_dev *d, uint32_t max_sets, uint32_t n_buffers, VkDescriptorPool *out);
void nfvk_destroy_descriptor_pool(nfvk_dev *d, VkDescriptorPool pool);
VkResult nfvk_alloc_set(nfvk_dev *d, VkDescriptorPool pool, VkDescriptorSetLayout layout, VkDescriptorSet *out);
void nfvk_write_set(nfvk_dev *d, VkDescriptorSet set, const VkBuffer *bufs, const uint64_t *offs,
                    const uint64_t *ranges, uint32_t n);
VkResult nfvk_begin(nfvk_dev *d, VkCommandBuffer cb, uint32_t flags);
VkResult nfvk_end(nfvk_dev *d, VkCommandBuffer cb);

VkResult nfvk_submit(nfvk_dev *d, VkQueue q, VkCommandBuffer cb, VkFence fence);
VkResult nfvk_submit_batches(nfvk_dev *d, VkQueue q, const VkCommandBuffer *cbs, const uint32_t *counts, uint32_t n,
                             VkFence fence);
VkResult nfvk_wait_fence(nfvk_dev *d, VkFence f, uint64_t timeout_ns);
VkResult nfvk_reset_fence(nfvk_dev *d, VkFence f);
VkResult nfvk_queue_wait_idle(nfvk_dev *d, VkQueue q);
VkResult nfvk_device_wait_idle(nfvk_dev *d);

#endif
