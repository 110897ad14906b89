// Element type of activation buffers. Built plain, ACT_T is float and the
// module is the float32 kernel; a source declaring
//	// nfvk:variant f16 ACT_F16
// is built a second time into <name>_f16.spv with ACT_T = float16_t
// (Precision FP16). Only storage is 16-bit: LD converts every load to
// float32, the math and accumulation stay float32, and ST rounds once on
// store (round to nearest even), so the variant needs
// storageBuffer16BitAccess and not shaderFloat16. Parameters, their
// gradients and optimizer state keep float buffers in both builds.
#ifdef ACT_F16
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
