// Activations times gamma, forward and derivative, for vec4 and float.
// KIND: 0 gelu (tanh form), 1 gelu (erf form), 2 relu, 3 silu.

const float SQRT_2_OVER_PI = 0.7978845608028654;
const float GELU_C = 0.044715;
const float INV_SQRT2 = 0.7071067811865476;
const float INV_SQRT_2PI = 0.3989422804014327;

// erf by Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7, float32
// rounding level. GLSL has no erf.
vec4 erf4(vec4 x) {
	vec4 s = sign(x);
	vec4 a = abs(x);
	vec4 t = 1.0 / (1.0 + 0.3275911 * a);
	vec4 y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
	return s * y;
}

// tanh via exp, clamped so large |u| does not overflow to inf/inf.
vec4 tanh4(vec4 u) {
	vec4 e = exp(-2.0 * clamp(abs(u), 0.0, 15.0));
	return sign(u) * (1.0 - e) / (1.0 + e);
}

vec4 act_fwd(vec4 x) {
#if KIND == 0
	vec4 u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
	return 0.5 * x * (1.0 + tanh4(u));
#elif KIND == 1
	return 0.5 * x * (1.0 + erf4(x * INV_SQRT2));
#elif KIND == 2
	return max(x, 0.0);
#else
	return x / (1.0 + exp(-x));
#endif
}

vec4 act_grad(vec4 x) {
#if KIND == 0
	vec4 u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
	vec4 th = tanh4(u);
	vec4 du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
	return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du;
#elif KIND == 1
	return 0.5 * (1.0 + erf4(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
#elif KIND == 2
	return vec4(greaterThan(x, vec4(0.0)));
#else
	vec4 s = 1.0 / (1.0 + exp(-x));
	return s * (1.0 + x * (1.0 - s));
#endif
}
