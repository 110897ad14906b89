#version 450
// Scaled weight standardization, forward: see include/ws_fwd.glsl.
#include "ws_fwd.glsl"
