// The fused optimizer step (AGC, weight decay, SGD with momentum) shared
// by optim_sgd (one tensor, its entry in push constants) and
// optim_sgd_multi (many tensors, entries in a table). Per element, in the
// spec's order (../shared/spec/NFNET.md §5):
//
//	g *= clip factor of its unit     (AGC; see optim_unit)
//	g += weight_decay * p            (tensors flagged OPT_WD)
//	buf = momentum * buf + g         (momentum != 0)
//	g = nesterov ? g + momentum * buf : buf
//	p -= lr * g
//
// Bindings: 0 hyper (optim_hyper.glsl), 1 param (rw), 2 grad (r),
// 3 momentum (rw). The gradient is only read: the clipped gradient lives
// in registers, which is what makes the step one pass over memory.
#include "optim_hyper.glsl"
#include "limits.glsl"

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 1) buffer P { float p[]; };
layout(set = 0, binding = 1) buffer P4 { vec4 p4[]; };
layout(set = 0, binding = 2) readonly buffer G { float g[]; };
layout(set = 0, binding = 2) readonly buffer G4 { vec4 g4[]; };
layout(set = 0, binding = 3) buffer M { float m[]; };
layout(set = 0, binding = 3) buffer M4 { vec4 m4[]; };

// Entry describes one tensor as a grid of work units. Element offsets are
// relative to the bound spans. A work unit is one AGC unit of `size`
// elements (OPT_AGC), a block of L small AGC units, one per invocation
// (OPT_SMALL), or, with AGC off, a chunk of `size` elements. `units`
// counts work units; `n` is the tensor's element count (the last unit may
// be short); `first` is the entry's first work unit in the dispatch grid.
struct Entry {
	uint first;
	uint units;
	uint size;
	uint n;
	uint p_off;
	uint g_off;
	uint m_off;
	uint flags;
};

const uint OPT_WD = 1u;    // weight decay applies
const uint OPT_AGC = 2u;   // AGC applies (the tensor is not excluded)
const uint OPT_V4 = 4u;    // offsets and unit size allow vec4 access
const uint OPT_SMALL = 8u; // each invocation owns whole AGC units

// The spec's floor of the gradient norm in the clip factor.
const float OPT_GRAD_NORM_FLOOR = 1e-6;

// Workgroups up to this size sum partials with one barrier, every
// invocation reading all of them (barrier() is the cost on CPU devices);
// larger ones use a tree.
const uint OPT_FLAT_MAX = 64;

shared vec2 opt_part_[2u * MAX_REDUCE_LOCAL];

// opt_wg_sum returns the workgroup sum of v to every invocation. Two slots
// alternate between consecutive calls (it flips slot): a slot is rewritten
// only after the other slot's barrier, which every reader of its old
// contents has passed, so no trailing barrier is needed. Units that skip
// the sum must not flip the slot, or two sums in a row would share one.
// Call in uniform control flow.
vec2 opt_wg_sum(vec2 v, inout uint slot) {
	uint L = gl_WorkGroupSize.x;
	uint base = slot * L;
	uint lid = gl_LocalInvocationID.x;
	slot ^= 1u;
	opt_part_[base + lid] = v;
	barrier();
	if (L <= OPT_FLAT_MAX) {
		vec2 s = vec2(0.0);
		for (uint j = 0u; j < L; j++) s += opt_part_[base + j];
		return s;
	}
	for (uint s = L / 2u; s > 0u; s >>= 1u) {
		if (lid < s) opt_part_[base + lid] += opt_part_[base + lid + s];
		barrier();
	}
	return opt_part_[base];
}

// opt_clip is AGC's factor for a unit with squared norms ss.x (param) and
// ss.y (grad): the spec's condition ||G|| > lambda*max(||W||, eps), then
// the rescale lambda*max(||W||, eps) / max(||G||, 1e-6). 1.0 (an exact
// no-op multiply) when the unit is not clipped.
float opt_clip(vec2 ss) {
	float gmax = h.lambda * max(sqrt(ss.x), h.eps);
	float gn = sqrt(ss.y);
	return gn > gmax ? gmax / max(gn, OPT_GRAD_NORM_FLOOR) : 1.0;
}

// OptH holds the hyper buffer's update scalars in registers: read once per
// unit, not after every store (the compiler cannot prove the parameter
// stores leave the hyper buffer alone).
struct OptH {
	float lr;
	float mom;
	float wd;   // 0 for tensors without weight decay
	float nest; // momentum under Nesterov, else 0
	bool use_mom;
};

OptH opt_h(Entry e) {
	bool nest = h.nesterov != 0u;
	float mom = h.momentum;
	return OptH(h.lr, mom, (e.flags & OPT_WD) != 0u ? h.weight_decay : 0.0, nest ? mom : 0.0, mom != 0.0);
}

// The per-element update, for float and vec4. o.wd is 0 for tensors
// without weight decay (g + 0*p is g exactly), so that needs no branch.
#define OPT_SGD(T)                                                         \
	void opt_sgd(OptH o, inout T pv, T gv, inout T mv, float scale) {      \
		T gi = gv * scale + o.wd * pv;                                     \
		if (o.use_mom) {                                                   \
			T b = o.mom * mv + gi;                                         \
			mv = b;                                                        \
			gi = o.nest != 0.0 ? o.nest * b + gi : b;                      \
		}                                                                  \
		pv = pv - o.lr * gi;                                               \
	}
OPT_SGD(float)
OPT_SGD(vec4)

// opt_update applies the update to elements [base, base+len) of e with
// clip factor scale, spread over the workgroup.
void opt_update(Entry e, uint base, uint len, float scale) {
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	OptH o = opt_h(e);
	uint len4 = (e.flags & OPT_V4) != 0u ? len / 4u : 0u;
	uint bp = (e.p_off + base) / 4u, bg = (e.g_off + base) / 4u, bm = (e.m_off + base) / 4u;
	for (uint i = lid; i < len4; i += L) {
		vec4 pv = p4[bp + i];
		vec4 mv = o.use_mom ? m4[bm + i] : vec4(0.0);
		opt_sgd(o, pv, g4[bg + i], mv, scale);
		p4[bp + i] = pv;
		if (o.use_mom) m4[bm + i] = mv;
	}
	for (uint i = len4 * 4u + lid; i < len; i += L) {
		uint j = base + i;
		float pv = p[e.p_off + j];
		float mv = o.use_mom ? m[e.m_off + j] : 0.0;
		opt_sgd(o, pv, g[e.g_off + j], mv, scale);
		p[e.p_off + j] = pv;
		if (o.use_mom) m[e.m_off + j] = mv;
	}
}

// opt_small processes block u of an OPT_SMALL entry: invocation lid owns
// AGC unit u*L+lid and does its norms and update alone, with no barrier
// (timm clips (O,1,1,1) gains per element: thousands of 1-element units).
void opt_small(Entry e, uint u) {
	uint r = u * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
	if (r >= e.n / e.size) return;
	uint base = r * e.size;
	float scale = 1.0;
	if ((e.flags & OPT_AGC) != 0u && h.lambda > 0.0) {
		vec2 ss = vec2(0.0);
		for (uint i = 0u; i < e.size; i++) {
			float pv = p[e.p_off + base + i], gv = g[e.g_off + base + i];
			ss += vec2(pv, gv) * vec2(pv, gv);
		}
		scale = opt_clip(ss);
	}
	OptH o = opt_h(e);
	for (uint i = 0u; i < e.size; i++) {
		uint j = base + i;
		float pv = p[e.p_off + j];
		float mv = o.use_mom ? m[e.m_off + j] : 0.0;
		opt_sgd(o, pv, g[e.g_off + j], mv, scale);
		p[e.p_off + j] = pv;
		if (o.use_mom) m[e.m_off + j] = mv;
	}
}

// optim_unit processes work unit u of entry e; slot is the workgroup's
// opt_wg_sum slot, starting at 0. The whole workgroup calls it with the
// same e and u, so its branches are uniform.
void optim_unit(Entry e, uint u, inout uint slot) {
	if ((e.flags & OPT_SMALL) != 0u) {
		opt_small(e, u);
		return;
	}
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	uint base = u * e.size;
	uint len = min(e.size, e.n - base);
	float scale = 1.0;
	if ((e.flags & OPT_AGC) != 0u && h.lambda > 0.0) {
		// ||W_u||^2 and ||G_u||^2 in fp32: vec4 partials per invocation,
		// then one workgroup sum of both.
		vec4 sp = vec4(0.0), sg = vec4(0.0);
		uint len4 = (e.flags & OPT_V4) != 0u ? len / 4u : 0u;
		for (uint i = lid; i < len4; i += L) {
			vec4 pv = p4[(e.p_off + base) / 4u + i], gv = g4[(e.g_off + base) / 4u + i];
			sp += pv * pv;
			sg += gv * gv;
		}
		for (uint i = len4 * 4u + lid; i < len; i += L) {
			float pv = p[e.p_off + base + i], gv = g[e.g_off + base + i];
			sp.x += pv * pv;
			sg.x += gv * gv;
		}
		vec2 ss = opt_wg_sum(vec2((sp.x + sp.y) + (sp.z + sp.w), (sg.x + sg.y) + (sg.z + sg.w)), slot);
		scale = opt_clip(ss);
	}
	opt_update(e, base, len, scale);
}
