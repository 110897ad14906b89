#version 450
#extension GL_EXT_control_flow_attributes : require
// Backward-filter of a grouped convolution; every invocation loads its
// own dy values (GPUs). See include/conv_filter.glsl.
#define SHUF 0
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "conv_filter.glsl"
