#version 450
#extension GL_EXT_control_flow_attributes : require
// Direct grouped convolution, forward and backward-data; every invocation
// loads its own weights (GPUs). See include/conv_direct.glsl.
#define SHUF 0
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "conv_direct.glsl"
