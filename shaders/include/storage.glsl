// Element type of activation buffers. Built plain, ACT_T is float and the
// module is the float32 kernel; a source declaring
//	// nfvk:variant f16 ACT_F16
//	// nfvk:variant bf16 ACT_BF16
// is built again into <name>_f16.spv with ACT_T = float16_t (Precision
// FP16) and into <name>_bf16.spv with ACT_T = uint16_t holding bfloat16
// bits (Precision BF16). Only storage is 16-bit: LD converts every load
// to float32, the math and accumulation stay float32, and ST rounds once
// on store (to nearest even), so the variants need
// storageBuffer16BitAccess and neither shaderFloat16 nor
// VK_KHR_shader_bfloat16: a bfloat16 is the high half of a float32, so
// widening it is a shift and rounding an integer add. Parameters, their
// gradients and optimizer state keep float buffers in every build.
#if defined(ACT_BF16)
#extension GL_EXT_shader_16bit_storage : require
#define ACT_T uint16_t
#define ACT2_T u16vec2
#define ACT4_T u16vec4
float bf16_load(uint h) { return uintBitsToFloat(h << 16); }
vec2 bf16_load2(uvec2 h) { return uintBitsToFloat(h << 16); }
vec4 bf16_load4(uvec4 h) { return uintBitsToFloat(h << 16); }
// bf16_bits rounds to the nearest bfloat16, ties to even, without a
// branch; a NaN stays a (quiet) NaN, which the add could carry into the
// infinities.
uvec4 bf16_bits4(vec4 v) {
	uvec4 b = floatBitsToUint(v);
	uvec4 r = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
	return mix(r, (b >> 16) | 0x40u, isnan(v));
}
uvec2 bf16_bits2(vec2 v) { return bf16_bits4(vec4(v, 0.0, 0.0)).xy; }
uint bf16_bits(float f) { return bf16_bits4(vec4(f)).x; }
#define LD(v) bf16_load(uint(v))
#define LD2(v) bf16_load2(uvec2(v))
#define LD4(v) bf16_load4(uvec4(v))
#define ST(v) ACT_T(bf16_bits(v))
#define ST2(v) ACT2_T(bf16_bits2(v))
#define ST4(v) ACT4_T(bf16_bits4(v))
#else
// float32 and float16 convert with constructors.
#if defined(ACT_F16)
#extension GL_EXT_shader_16bit_storage : require
#define ACT_T float16_t
#define ACT2_T f16vec2
#define ACT4_T f16vec4
#else
#define ACT_T float
#define ACT2_T vec2
#define ACT4_T vec4
#endif
#define LD(v) float(v)
#define LD2(v) vec2(v)
#define LD4(v) vec4(v)
#define ST(v) ACT_T(v)
#define ST2(v) ACT2_T(v)
#define ST4(v) ACT4_T(v)
#endif
