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

// 0.5*(1 + tanh(u)) = sigmoid(2u): written so, the GELU tanh form and its
// derivative have no cancellation for negative x. e = exp(-2u) with u
// clamped: e/(1+e)^2 then underflows to 0 instead of inf/inf.
vec4 gelu_e(vec4 x) {
	vec4 u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
	return exp(-2.0 * clamp(u, -40.0, 40.0));
}

vec4 act_fwd(vec4 x) {
#if KIND == 0
	return x / (1.0 + gelu_e(x));
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
	// d/dx x*s(2u) = s + x * 2 s (1-s) du, s (1-s) = e/(1+e)^2.
	vec4 e = gelu_e(x);
	vec4 s = 1.0 / (1.0 + e);
	vec4 du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
	return s + 2.0 * x * du * (e * s * s);
#elif KIND == 1
	return 0.5 * (1.0 + erf4(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
#elif KIND == 2
	return vec4(greaterThan(x, vec4(0.0)));
#else
	vec4 s = 1.0 / (1.0 + exp(-x));
	return s * (1.0 + x * (1.0 - s));
#endif
}
