#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Backward-filter of a grouped convolution; the dy values of a pixel are
// loaded once per subgroup and shared by subgroupShuffle (CPU devices).
// See include/conv_filter.glsl.
#define SHUF 1
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "conv_filter.glsl"
