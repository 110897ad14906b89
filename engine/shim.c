#include "shim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "_cgo_export.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

static PFN_vkGetInstanceProcAddr gipa = NULL;

#if defined(_WIN32)
// The application directory and System32 (where drivers install the
// loader) but not the current directory, so a stray vulkan-1.dll there is
// never loaded.
static void *lib_open(const char *name) {
	return (void *)LoadLibraryExA(name, NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
}
static void *lib_sym(void *lib, const char *sym) { return (void *)GetProcAddress((HMODULE)lib, sym); }
static void lib_close(void *lib) { FreeLibrary((HMODULE)lib); }
static void lib_error(char *err, int errlen) {
	DWORD code = GetLastError();
	int n = snprintf(err, errlen, "error %lu: ", (unsigned long)code);
	if (n < 0 || n >= errlen) return;
	DWORD m = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, err + n,
	                         (DWORD)(errlen - n), NULL);
	if (m == 0) err[n] = 0;
	// FormatMessage ends its text with a line break.
	while (m > 0 && (err[n + m - 1] == '\r' || err[n + m - 1] == '\n' || err[n + m - 1] == ' ')) err[n + --m] = 0;
}
#else
static void *lib_open(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }
static void *lib_sym(void *lib, const char *sym) { return dlsym(lib, sym); }
static void lib_close(void *lib) { dlclose(lib); }
static void lib_error(char *err, int errlen) {
	const char *msg = dlerror();
	snprintf(err, errlen, "%s", msg ? msg : "unknown error");
}
#endif

// nfvk_load opens one candidate loader library; the Go side walks the
// list for this OS. On success the library stays loaded for the life of
// the process (the binding keeps pointers into it); a failed try leaves
// the loaded state as it was.
int nfvk_load(const char *name, char *err, int errlen) {
	void *lib = lib_open(name);
	if (!lib) {
		lib_error(err, errlen);
		return -1;
	}
	PFN_vkGetInstanceProcAddr f = (PFN_vkGetInstanceProcAddr)lib_sym(lib, "vkGetInstanceProcAddr");
	if (!f) {
		snprintf(err, errlen, "opened, but it does not export vkGetInstanceProcAddr");
		lib_close(lib);
		return -1;
	}
	gipa = f;
	return 0;
}

void *nfvk_get_instance_proc_addr(void) { return (void *)gipa; }

uint32_t nfvk_instance_version(void) {
	PFN_vkEnumerateInstanceVersion f = (PFN_vkEnumerateInstanceVersion)gipa(NULL, "vkEnumerateInstanceVersion");
	uint32_t v = VK_API_VERSION_1_0;
	if (f) f(&v);
	return v;
}

VkResult nfvk_create_instance(uint32_t api_version, const char **layers, uint32_t nlayers,
                              const char **exts, uint32_t nexts, uint32_t flags, uint32_t gpu_assisted,
                              VkInstance *out) {
	PFN_vkCreateInstance create = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
	if (!create) return VK_ERROR_INITIALIZATION_FAILED;
	VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
	app.pApplicationName = "nfvk";
	app.pEngineName = "nfvk";
	app.apiVersion = api_version;
	VkInstanceCreateInfo ci = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
	ci.flags = flags;
	ci.pApplicationInfo = &app;
	ci.enabledLayerCount = nlayers;
	ci.ppEnabledLayerNames = layers;
	ci.enabledExtensionCount = nexts;
	ci.ppEnabledExtensionNames = exts;
	// With the validation layer, also run synchronization validation: it
	// catches missing copy/dispatch barriers (not dispatch->dispatch on
	// lavapipe, which the scheduler tests cover).
	// GPU-assisted validation instruments shaders to report out-of-bounds
	// descriptor and buffer accesses; it needs one descriptor set slot of
	// its own (reserved, so nfvk's set 0 never collides).
	VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
	                                          VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT,
	                                          VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_RESERVE_BINDING_SLOT_EXT};
	VkValidationFeaturesEXT vf = {VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
	vf.enabledValidationFeatureCount = gpu_assisted ? 3 : 1;
	vf.pEnabledValidationFeatures = enables;
	if (nlayers > 0) ci.pNext = &vf;
	return create(&ci, NULL, out);
}

void nfvk_destroy_instance(VkInstance inst) {
	PFN_vkDestroyInstance f = (PFN_vkDestroyInstance)gipa(inst, "vkDestroyInstance");
	if (f) f(inst, NULL);
}

VkResult nfvk_instance_extensions(uint32_t *n, VkExtensionProperties *out) {
	PFN_vkEnumerateInstanceExtensionProperties f =
	    (PFN_vkEnumerateInstanceExtensionProperties)gipa(NULL, "vkEnumerateInstanceExtensionProperties");
	if (!f) return VK_ERROR_INITIALIZATION_FAILED;
	return f(NULL, n, out);
}

VkResult nfvk_instance_layers(uint32_t *n, VkLayerProperties *out) {
	PFN_vkEnumerateInstanceLayerProperties f =
	    (PFN_vkEnumerateInstanceLayerProperties)gipa(NULL, "vkEnumerateInstanceLayerProperties");
	if (!f) return VK_ERROR_INITIALIZATION_FAILED;
	return f(n, out);
}

VkResult nfvk_device_extensions(VkInstance inst, VkPhysicalDevice pd, uint32_t *n, VkExtensionProperties *out) {
	PFN_vkEnumerateDeviceExtensionProperties f =
	    (PFN_vkEnumerateDeviceExtensionProperties)gipa(inst, "vkEnumerateDeviceExtensionProperties");
	if (!f) return VK_ERROR_INITIALIZATION_FAILED;
	return f(pd, NULL, n, out);
}

void nfvk_queue_families(VkInstance inst, VkPhysicalDevice pd, uint32_t *n, VkQueueFamilyProperties *out) {
	PFN_vkGetPhysicalDeviceQueueFamilyProperties f =
	    (PFN_vkGetPhysicalDeviceQueueFamilyProperties)gipa(inst, "vkGetPhysicalDeviceQueueFamilyProperties");
	if (!f) {
		*n = 0;
		return;
	}
	f(pd, n, out);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                               VkDebugUtilsMessageTypeFlagsEXT types,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
	nfvkGoDebugMessage((uintptr_t)user, (int)severity, (int)types,
	                   (char *)(data->pMessageIdName ? data->pMessageIdName : ""),
	                   (char *)(data->pMessage ? data->pMessage : ""));
	return VK_FALSE;
}

VkResult nfvk_create_messenger(VkInstance inst, uintptr_t handle, VkDebugUtilsMessengerEXT *out) {
	PFN_vkCreateDebugUtilsMessengerEXT f =
	    (PFN_vkCreateDebugUtilsMessengerEXT)gipa(inst, "vkCreateDebugUtilsMessengerEXT");
	if (!f) return VK_ERROR_EXTENSION_NOT_PRESENT;
	VkDebugUtilsMessengerCreateInfoEXT ci = {VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
	ci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
	ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
	                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
	ci.pfnUserCallback = debug_cb;
	ci.pUserData = (void *)handle;
	return f(inst, &ci, NULL, out);
}

void nfvk_destroy_messenger(VkInstance inst, VkDebugUtilsMessengerEXT m) {
	PFN_vkDestroyDebugUtilsMessengerEXT f =
	    (PFN_vkDestroyDebugUtilsMessengerEXT)gipa(inst, "vkDestroyDebugUtilsMessengerEXT");
	if (f && m) f(inst, m, NULL);
}

void nfvk_physical_extra(VkInstance inst, VkPhysicalDevice pd, uint32_t api_version, nfvk_extra_info *out) {
	memset(out, 0, sizeof(*out));
	if (VK_API_VERSION_MINOR(api_version) < 1 && VK_API_VERSION_MAJOR(api_version) == 1) return;
	PFN_vkGetPhysicalDeviceProperties2 props2 =
	    (PFN_vkGetPhysicalDeviceProperties2)gipa(inst, "vkGetPhysicalDeviceProperties2");
	PFN_vkGetPhysicalDeviceFeatures2 feats2 =
	    (PFN_vkGetPhysicalDeviceFeatures2)gipa(inst, "vkGetPhysicalDeviceFeatures2");
	if (!props2 || !feats2) return;
	int v12 = VK_API_VERSION_MINOR(api_version) >= 2;

	int v13 = VK_API_VERSION_MINOR(api_version) >= 3;

	VkPhysicalDeviceSubgroupProperties sg = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
	VkPhysicalDeviceMaintenance3Properties m3 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
	VkPhysicalDeviceDriverProperties drv = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
	VkPhysicalDeviceMaintenance4Properties m4 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
	VkPhysicalDeviceProperties2 p = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
	p.pNext = &sg;
	sg.pNext = &m3;
	if (v12) m3.pNext = &drv;
	if (v13) drv.pNext = &m4;
	props2(pd, &p);
	out->max_memory_allocation_size = m3.maxMemoryAllocationSize;
	if (v13) out->max_buffer_size = m4.maxBufferSize;
	out->subgroup_size = sg.subgroupSize;
	out->subgroup_stages = sg.supportedStages;
	out->subgroup_ops = sg.supportedOperations;
	if (v12) {
		out->driver_id = drv.driverID;
		snprintf(out->driver_name, sizeof out->driver_name, "%s", drv.driverName);
		snprintf(out->driver_info, sizeof out->driver_info, "%s", drv.driverInfo);
	}

	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	VkPhysicalDeviceShaderFloat16Int8Features f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
	VkPhysicalDeviceFeatures2 f = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
	f.pNext = &s16;
	if (v12) s16.pNext = &f16;
	feats2(pd, &f);
	out->storage_buffer_16bit = s16.storageBuffer16BitAccess;
	out->shader_float16 = f16.shaderFloat16;
	out->shader_int8 = f16.shaderInt8;
}

VkResult nfvk_create_device(VkInstance inst, VkPhysicalDevice pd, uint32_t queue_family,
                            uint32_t enable_f16, uint32_t enable_storage16, const char **exts, uint32_t nexts,
                            VkDevice *out) {
	PFN_vkCreateDevice create = (PFN_vkCreateDevice)gipa(inst, "vkCreateDevice");
	if (!create) return VK_ERROR_INITIALIZATION_FAILED;
	float prio = 1.0f;
	VkDeviceQueueCreateInfo q = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
	q.queueFamilyIndex = queue_family;
	q.queueCount = 1;
	q.pQueuePriorities = &prio;
	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	VkPhysicalDeviceShaderFloat16Int8Features f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
	s16.storageBuffer16BitAccess = enable_storage16 ? VK_TRUE : VK_FALSE;
	f16.shaderFloat16 = enable_f16 ? VK_TRUE : VK_FALSE;
	void *chain = NULL;
	if (enable_f16) { f16.pNext = chain; chain = &f16; }
	if (enable_storage16) { s16.pNext = chain; chain = &s16; }
	VkDeviceCreateInfo ci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
	ci.pNext = chain;
	ci.queueCreateInfoCount = 1;
	ci.pQueueCreateInfos = &q;
	ci.enabledExtensionCount = nexts;
	ci.ppEnabledExtensionNames = exts;
	return create(pd, &ci, NULL, out);
}

struct nfvk_dev {
	VkDevice dev;
	PFN_vkDestroyDevice DestroyDevice;
	PFN_vkCreateShaderModule CreateShaderModule;
	PFN_vkDestroyShaderModule DestroyShaderModule;
	PFN_vkCreateComputePipelines CreateComputePipelines;
	PFN_vkCmdBindPipeline CmdBindPipeline;
	PFN_vkCmdBindDescriptorSets CmdBindDescriptorSets;
	PFN_vkCmdPushConstants CmdPushConstants;
	PFN_vkCmdDispatch CmdDispatch;
	PFN_vkCmdPipelineBarrier CmdPipelineBarrier;
	PFN_vkCmdResetQueryPool CmdResetQueryPool;
	PFN_vkCmdWriteTimestamp CmdWriteTimestamp;
	PFN_vkCmdCopyBuffer CmdCopyBuffer;
	PFN_vkBeginCommandBuffer BeginCommandBuffer;
	PFN_vkEndCommandBuffer EndCommandBuffer;
	PFN_vkQueueSubmit QueueSubmit;
	PFN_vkWaitForFences WaitForFences;
	PFN_vkResetFences ResetFences;
	PFN_vkQueueWaitIdle QueueWaitIdle;
	PFN_vkDeviceWaitIdle DeviceWaitIdle;
	PFN_vkCreateDescriptorPool CreateDescriptorPool;
	PFN_vkDestroyDescriptorPool DestroyDescriptorPool;
	PFN_vkAllocateDescriptorSets AllocateDescriptorSets;
	PFN_vkUpdateDescriptorSets UpdateDescriptorSets;
	PFN_vkCreateDescriptorSetLayout CreateDescriptorSetLayout;
	PFN_vkDestroyDescriptorSetLayout DestroyDescriptorSetLayout;
	PFN_vkCreatePipelineLayout CreatePipelineLayout;
	PFN_vkInvalidateMappedMemoryRanges InvalidateMappedMemoryRanges;
};

nfvk_dev *nfvk_device_fns(VkInstance inst, VkDevice dev) {
	PFN_vkGetDeviceProcAddr gdpa = (PFN_vkGetDeviceProcAddr)gipa(inst, "vkGetDeviceProcAddr");
	if (!gdpa) return NULL;
	nfvk_dev *d = calloc(1, sizeof(nfvk_dev));
	if (!d) return NULL;
	d->dev = dev;
#define LOAD(name)                                                     \
	d->name = (PFN_vk##name)gdpa(dev, "vk" #name);                     \
	if (!d->name) {                                                    \
		free(d);                                                       \
		return NULL;                                                   \
	}
	LOAD(DestroyDevice)
	LOAD(CreateShaderModule)
	LOAD(DestroyShaderModule)
	LOAD(CreateComputePipelines)
	LOAD(CmdBindPipeline)
	LOAD(CmdBindDescriptorSets)
	LOAD(CmdPushConstants)
	LOAD(CmdDispatch)
	LOAD(CmdPipelineBarrier)
	LOAD(CmdResetQueryPool)
	LOAD(CmdWriteTimestamp)
	LOAD(CmdCopyBuffer)
	LOAD(BeginCommandBuffer)
	LOAD(EndCommandBuffer)
	LOAD(QueueSubmit)
	LOAD(WaitForFences)
	LOAD(ResetFences)
	LOAD(QueueWaitIdle)
	LOAD(DeviceWaitIdle)
	LOAD(CreateDescriptorPool)
	LOAD(DestroyDescriptorPool)
	LOAD(AllocateDescriptorSets)
	LOAD(UpdateDescriptorSets)
	LOAD(CreateDescriptorSetLayout)
	LOAD(DestroyDescriptorSetLayout)
	LOAD(CreatePipelineLayout)
	LOAD(InvalidateMappedMemoryRanges)
#undef LOAD
	return d;
}

void nfvk_device_free(nfvk_dev *d) { free(d); }

void nfvk_destroy_device(nfvk_dev *d) {
	if (!d) return;
	d->DestroyDevice(d->dev, NULL);
	free(d);
}

// nfvk_create_layouts makes the one descriptor-set layout (nbindings
// storage buffers, compute stage) and the pipeline layout over it with
// push_size bytes of push constants. On failure nothing is left created.
VkResult nfvk_create_layouts(nfvk_dev *d, uint32_t nbindings, uint32_t push_size, VkDescriptorSetLayout *set_layout,
                             VkPipelineLayout *pipeline_layout) {
	VkDescriptorSetLayoutBinding *binds = calloc(nbindings ? nbindings : 1, sizeof(*binds));
	if (!binds) return VK_ERROR_OUT_OF_HOST_MEMORY;
	for (uint32_t i = 0; i < nbindings; i++) {
		binds[i].binding = i;
		binds[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		binds[i].descriptorCount = 1;
		binds[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	}
	VkDescriptorSetLayoutCreateInfo lci = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
	lci.bindingCount = nbindings;
	lci.pBindings = binds;
	VkResult r = d->CreateDescriptorSetLayout(d->dev, &lci, NULL, set_layout);
	free(binds);
	if (r != VK_SUCCESS) return r;
	VkPushConstantRange push = {VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size};
	VkPipelineLayoutCreateInfo pci = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
	pci.setLayoutCount = 1;
	pci.pSetLayouts = set_layout;
	pci.pushConstantRangeCount = 1;
	pci.pPushConstantRanges = &push;
	r = d->CreatePipelineLayout(d->dev, &pci, NULL, pipeline_layout);
	if (r != VK_SUCCESS) {
		d->DestroyDescriptorSetLayout(d->dev, *set_layout, NULL);
		*set_layout = VK_NULL_HANDLE;
	}
	return r;
}

VkResult nfvk_invalidate_memory(nfvk_dev *d, VkDeviceMemory mem) {
	VkMappedMemoryRange r = {VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
	r.memory = mem;
	r.size = VK_WHOLE_SIZE;
	return d->InvalidateMappedMemoryRanges(d->dev, 1, &r);
}

VkResult nfvk_create_compute_pipeline(nfvk_dev *d, VkPipelineCache cache, const uint32_t *code, size_t code_size,
                                      VkPipelineLayout layout, const uint32_t *spec, uint32_t nspec,
                                      VkPipeline *out) {
	VkShaderModuleCreateInfo mci = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
	mci.codeSize = code_size;
	mci.pCode = code;
	VkShaderModule mod;
	VkResult r = d->CreateShaderModule(d->dev, &mci, NULL, &mod);
	if (r != VK_SUCCESS) return r;
	// Specialization constant i has constant_id i.
	VkSpecializationMapEntry entries[64];
	if (nspec > 64) nspec = 64;
	for (uint32_t i = 0; i < nspec; i++) {
		entries[i].constantID = i;
		entries[i].offset = i * 4;
		entries[i].size = 4;
	}
	VkSpecializationInfo si = {nspec, entries, nspec * 4, spec};
	VkComputePipelineCreateInfo ci = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
	ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
	ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
	ci.stage.module = mod;
	ci.stage.pName = "main";
	ci.stage.pSpecializationInfo = nspec ? &si : NULL;
	ci.layout = layout;
	r = d->CreateComputePipelines(d->dev, cache, 1, &ci, NULL, out);
	d->DestroyShaderModule(d->dev, mod, NULL);
	return r;
}

void nfvk_cmd_dispatch(nfvk_dev *d, VkCommandBuffer cb, VkPipeline p, VkPipelineLayout layout,
                       VkDescriptorSet set, const void *push, uint32_t push_size,
                       uint32_t gx, uint32_t gy, uint32_t gz) {
	d->CmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
	d->CmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
	if (push_size) d->CmdPushConstants(cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
	d->CmdDispatch(cb, gx, gy, gz);
}

void nfvk_cmd_barrier(nfvk_dev *d, VkCommandBuffer cb, VkPipelineStageFlags src_stage,
                      VkPipelineStageFlags dst_stage, VkAccessFlags src_access, VkAccessFlags dst_access) {
	VkMemoryBarrier mb = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
	mb.srcAccessMask = src_access;
	mb.dstAccessMask = dst_access;
	d->CmdPipelineBarrier(cb, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

void nfvk_cmd_reset_queries(nfvk_dev *d, VkCommandBuffer cb, VkQueryPool pool, uint32_t first, uint32_t count) {
	d->CmdResetQueryPool(cb, pool, first, count);
}

void nfvk_cmd_timestamp(nfvk_dev *d, VkCommandBuffer cb, VkPipelineStageFlagBits stage, VkQueryPool pool, uint32_t q) {
	d->CmdWriteTimestamp(cb, stage, pool, q);
}

void nfvk_cmd_copy(nfvk_dev *d, VkCommandBuffer cb, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
                   VkDeviceSize dst_off, VkDeviceSize size) {
	VkBufferCopy region = {src_off, dst_off, size};
	d->CmdCopyBuffer(cb, src, dst, 1, &region);
}

VkResult nfvk_create_descriptor_pool(nfvk_dev *d, uint32_t max_sets, uint32_t n_buffers, VkDescriptorPool *out) {
	VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n_buffers ? n_buffers : 1};
	VkDescriptorPoolCreateInfo ci = {VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
	ci.maxSets = max_sets ? max_sets : 1;
	ci.poolSizeCount = 1;
	ci.pPoolSizes = &size;
	return d->CreateDescriptorPool(d->dev, &ci, NULL, out);
}

void nfvk_destroy_descriptor_pool(nfvk_dev *d, VkDescriptorPool pool) {
	if (pool) d->DestroyDescriptorPool(d->dev, pool, NULL);
}

VkResult nfvk_alloc_set(nfvk_dev *d, VkDescriptorPool pool, VkDescriptorSetLayout layout, VkDescriptorSet *out) {
	VkDescriptorSetAllocateInfo ai = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
	ai.descriptorPool = pool;
	ai.descriptorSetCount = 1;
	ai.pSetLayouts = &layout;
	return d->AllocateDescriptorSets(d->dev, &ai, out);
}

void nfvk_write_set(nfvk_dev *d, VkDescriptorSet set, const VkBuffer *bufs, const uint64_t *offs,
                    const uint64_t *ranges, uint32_t n) {
	VkDescriptorBufferInfo info[32];
	VkWriteDescriptorSet w[32];
	if (n > 32) n = 32;
	for (uint32_t i = 0; i < n; i++) {
		info[i].buffer = bufs[i];
		info[i].offset = offs[i];
		info[i].range = ranges[i];
		VkWriteDescriptorSet wi = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
		wi.dstSet = set;
		wi.dstBinding = i;
		wi.descriptorCount = 1;
		wi.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		wi.pBufferInfo = &info[i];
		w[i] = wi;
	}
	d->UpdateDescriptorSets(d->dev, n, w, 0, NULL);
}

VkResult nfvk_begin(nfvk_dev *d, VkCommandBuffer cb, uint32_t flags) {
	VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
	bi.flags = flags;
	return d->BeginCommandBuffer(cb, &bi);
}

VkResult nfvk_end(nfvk_dev *d, VkCommandBuffer cb) { return d->EndCommandBuffer(cb); }

VkResult nfvk_submit(nfvk_dev *d, VkQueue q, VkCommandBuffer cb, VkFence fence) {
	VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
	si.commandBufferCount = 1;
	si.pCommandBuffers = &cb;
	return d->QueueSubmit(q, 1, &si, fence);
}

// nfvk_submit_batches submits n batches in one vkQueueSubmit: batch i
// is the next counts[i] command buffers of cbs.
VkResult nfvk_submit_batches(nfvk_dev *d, VkQueue q, const VkCommandBuffer *cbs, const uint32_t *counts, uint32_t n,
                             VkFence fence) {
	VkSubmitInfo fixed[8];
	VkSubmitInfo *si = n <= 8 ? fixed : calloc(n, sizeof *si);
	if (!si) return VK_ERROR_OUT_OF_HOST_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		VkSubmitInfo s = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
		s.commandBufferCount = counts[i];
		s.pCommandBuffers = cbs;
		cbs += counts[i];
		si[i] = s;
	}
	VkResult r = d->QueueSubmit(q, n, si, fence);
	if (si != fixed) free(si);
	return r;
}

VkResult nfvk_wait_fence(nfvk_dev *d, VkFence f, uint64_t timeout_ns) {
	return d->WaitForFences(d->dev, 1, &f, VK_TRUE, timeout_ns);
}

VkResult nfvk_reset_fence(nfvk_dev *d, VkFence f) { return d->ResetFences(d->dev, 1, &f); }

VkResult nfvk_queue_wait_idle(nfvk_dev *d, VkQueue q) { return d->QueueWaitIdle(q); }

VkResult nfvk_device_wait_idle(nfvk_dev *d) { return d->DeviceWaitIdle(d->dev); }
