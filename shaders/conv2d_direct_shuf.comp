#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Direct grouped convolution, forward and backward-data; the weights of a
// step are loaded once per subgroup and shared by subgroupShuffle (CPU
// devices, where loads are expensive). See include/conv_direct.glsl.
#define SHUF 1
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "conv_direct.glsl"
