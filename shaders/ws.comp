#version 450
// Scaled weight standardization, forward: see include/ws_fwd.glsl.
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "ws_fwd.glsl"
