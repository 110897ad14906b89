#version 450
// Scaled weight standardization, backward: see include/ws_bwd.glsl.
#include "ws_bwd.glsl"
