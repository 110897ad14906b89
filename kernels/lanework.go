package kernels

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// The serial work of one invocation of a dispatch, from the shader's loop
// structure, its specialization and the dispatch's grid and push
// constants: the loop iterations one invocation runs, all loops together
// (what lavapipe's loop limit counts), each of a few loads and arithmetic
// operations. Every dispatch a kernel records is measured here (dispatch),
// so the lane budget of the GPU tuning classes is checked on the plans as
// they are recorded, for every shader. The models follow the GLSL loops;
// constant-trip loops the compiler unrolls count once per iteration of
// the loop around them.

// workCtx is what a model reads: the shader's specialization, the grid
// and the push constants by their contract names.
type workCtx struct {
	shader string
	spec   []uint32
	groups [3]uint32
	push   map[string]uint32
	sg     int // the device's subgroup size
}

func (c workCtx) p(name string) int { return int(c.push[name]) }

// local is the workgroup size (constant_id 0, times constant_id 1 for the
// 2-D gemm_tiled).
func (c workCtx) local() int {
	l := 1
	if len(c.spec) > 0 {
		l = int(c.spec[0])
	}
	if c.shader == "gemm_tiled" && len(c.spec) > 1 {
		l *= int(c.spec[1])
	}
	return max(l, 1)
}

// threads is the invocations of the whole grid.
func (c workCtx) threads() int {
	return c.local() * int(c.groups[0]) * int(c.groups[1]) * int(c.groups[2])
}

// flag is specialization constant i as a boolean (false when not given).
func (c workCtx) flag(i int) bool { return len(c.spec) > i && c.spec[i] != 0 }

// tree is the iterations of a workgroup reduction over L partials: a
// flat sum up to 32 (64 for the optimizer), else a log2 tree.
func tree(l, flat int) int {
	if l <= flat {
		return l
	}
	return bits.Len(uint(l))
}

// streamWork is one invocation's share of n units over a grid-stride or
// run loop of t invocations, plus the scalar tail.
func streamWork(n, t int) int { return ceilDiv(n, max(t, 1)) + 1 }

// workModels holds the model of every shader, by name (prefix for the
// activations).
var workModels = map[string]func(workCtx) int{
	"act_":  func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"axpby": func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"copy":  func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	// The converted copies of precision FP16 stream like copy.
	"to_half":  func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"to_float": func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"fill":     func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	// Every element runs the 10 rounds of the counter-based generator.
	"dropout":   func(c workCtx) int { return 10 * streamWork(c.p("n"), c.threads()) },
	"optim_ema": func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	// Loss scaling: two streams and two single-word kernels.
	"ls_check":  func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"ls_scale":  func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) },
	"ls_hyper":  func(workCtx) int { return 1 },
	"ls_update": func(workCtx) int { return 1 },
	"residual": func(c workCtx) int {
		return streamWork(c.p("n")/4, c.threads()) + tree(c.local(), 32)
	},
	"se": func(c workCtx) int { return streamWork(c.p("n")/4, c.threads()) + c.p("hw")/4 },
	// Each output (input, backward) sums its window: KH*KW (spec 1, 2).
	"pool": func(c workCtx) int {
		return streamWork(c.p("total"), c.threads()) * int(c.spec[1]) * int(c.spec[2])
	},
	"pool2x2":     func(c workCtx) int { return streamWork(c.p("pairs"), c.threads()) },
	"pool_global": func(c workCtx) int { return streamWork(c.p("planes"), c.threads()) * c.p("hw") },
	"conv2d_direct": func(c workCtx) int {
		ch := c.p("cEnd") - c.p("cBegin")
		if c.spec[5] > 0 { // row windows: per kernel row, the channels
			return c.p("kh") * (ch + 1)
		}
		return c.p("kh")*c.p("kw")*ch + c.p("kh")*(c.p("kw")+1)
	},
	"conv2d_filter": func(c workCtx) int {
		return min(c.p("rowsPer"), c.p("rowEnd")-c.p("rowBegin")) * (c.p("ow") + 1)
	},
	"sum_slices": func(c workCtx) int { return streamWork(c.p("n"), c.threads()) * c.p("slices") },
	"conv2d_bias_grad": func(c workCtx) int {
		per := ceilDiv(c.p("e1")-c.p("e0"), c.local()) + tree(c.local(), 0)
		return ceilDiv(c.p("o"), int(c.groups[0])) * per
	},
	// The K loop: every k step is TM*TN (gemm_tiled: plus its share of
	// the slice loads) or R*CQ*4 (gemm_sg) FMAs.
	"gemm_tiled": func(c workCtx) int {
		return gemmTiledWork(c.spec[0], c.spec[1], c.spec[2], c.spec[3], c.spec[4], c.p("K"))
	},
	"gemm_sg": func(c workCtx) int { return c.p("K") + 1 },
	"reduce_rows": func(c workCtx) int {
		if c.flag(2) { // a row per invocation
			return streamWork(c.p("rows"), c.threads()) * c.p("cols")
		}
		return ceilDiv(c.p("rows"), int(c.groups[0])) * (ceilDiv(c.p("cols"), c.local()) + tree(c.local(), 0))
	},
	// Stage 0: per row three passes over the K logits and three sums;
	// stage 1 (spec 1): the N partials.
	"loss": func(c workCtx) int {
		if c.flag(1) {
			return ceilDiv(c.p("N"), c.local()) + tree(c.local(), 32)
		}
		return ceilDiv(c.p("N"), int(c.groups[0])) * (3*ceilDiv(c.p("K"), c.local()) + 3*tree(c.local(), 32))
	},
	"loss_lane": func(c workCtx) int { return streamWork(c.p("N"), c.threads()) * 3 * c.p("K") },
	// A workgroup per row: two passes over the row's vec4s and the sums.
	"ws":          wsRowWork,
	"ws_backward": wsRowWork,
	"ws_lane": func(c workCtx) int {
		if c.flag(4) { // REGS: a subgroup per row, JCOUNT vec4s per lane
			sg := max(c.sg, 1)
			return ceilDiv(c.p("rows"), int(c.groups[0])*max(c.local()/sg, 1)) * (3*int(c.spec[5]) + tree(sg, 0))
		}
		return streamWork(c.p("rows"), c.threads()) * 3 * ceilDiv(c.p("F"), 4)
	},
	// A workgroup per unit (grid-stride); optim_sgd_multi's units are in
	// its table, so OptimizerSteps gives their work itself.
	"optim_sgd": func(c workCtx) int {
		return ceilDiv(c.p("units"), int(c.groups[0])) * optimUnitWork(c.p("size"), c.local(), c.p("flags")&optSmall != 0)
	},
	"peak_fma": func(c workCtx) int { return c.p("iters") },
	"empty":    func(workCtx) int { return 1 },
}

// gemmTiledWork is gemm_tiled's lane work for a K of k: per slice of BK,
// BK steps and the invocation's share of loading the slice.
func gemmTiledWork(tx, ty, tm, tn, bk uint32, k int) int {
	return ceilDiv(k, int(bk)) * gemmTiledSliceWork(tx, ty, tm, tn, bk)
}

func gemmTiledSliceWork(tx, ty, tm, tn, bk uint32) int {
	return int(bk) + ceilDiv(int(bk*(ty*tm+tx*tn)), int(tx*ty))
}

func wsRowWork(c workCtx) int {
	return ceilDiv(c.p("rows"), int(c.groups[0])) * (2*ceilDiv(ceilDiv(c.p("F"), 4), c.local()) + 2*tree(c.local(), 32))
}

// optimUnitWork is the work of one optimizer unit of size elements in a
// workgroup of l (the norms, their sum and the update), or of a block of
// small units, each invocation owning one (two passes over it).
func optimUnitWork(size, l int, small bool) int {
	if small {
		return 2 * size
	}
	return 2*ceilDiv(ceilDiv(size, 4), l) + tree(l, 64) + 2
}

// laneIters returns the modelled work of one invocation of a dispatch of
// shader with spec, groups and push (laid out as its contract says).
func laneIters(shader string, spec []uint32, groups [3]uint32, push []byte, subgroup int) (int, error) {
	// Float16 variants and shuffles run the same loops.
	model := workModels[strings.TrimSuffix(sourceName(shader), "_shuf")]
	if model == nil && strings.HasPrefix(shader, "act_") {
		model = workModels["act_"]
	}
	if model == nil {
		return 0, fmt.Errorf("shader %s has no work model (kernels/lanework.go)", shader)
	}
	c, err := lookupContract(shader)
	if err != nil {
		return 0, err
	}
	ctx := workCtx{shader: shader, spec: spec, groups: groups, push: map[string]uint32{}, sg: subgroup}
	for i, f := range c.push {
		if 4*i+4 <= len(push) {
			ctx.push[f.name] = binary.LittleEndian.Uint32(push[4*i:])
		}
	}
	return model(ctx), nil
}
