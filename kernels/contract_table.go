package kernels

import "slices"

// The contracts of the embedded shaders (see contract.go), in the order
// and with the names of their GLSL declarations. Shaders that share
// GLSL share a contract.
var (
	// act_<kind>: forward binds x at 1 (dy is backward's).
	actContract = contract{
		bindings: slices.Concat(ro("x", "dy"), wo("y")),
		push:     slices.Concat(uints("n"), floats("gamma")),
	}
	// include/conv_direct.glsl, forward and backward-data.
	convDirectContract = contract{
		bindings: slices.Concat(ro("src", "w", "bias"), rw("dst")),
		push: uints("n", "cin", "hin", "win", "cout", "hout", "wout",
			"kh", "kw", "sh", "sw", "ph", "pw", "cgIn", "cgOut", "blocks",
			"sIn", "sOut", "cBegin", "cEnd", "accumulate"),
	}
	// include/conv_filter.glsl.
	convFilterContract = contract{
		bindings: slices.Concat(ro("x", "dy"), rw("dw")),
		push: uints("n", "c", "h", "w", "o", "oh", "ow",
			"kh", "kw", "sh", "sw", "ph", "pw", "cg", "og", "blocks",
			"entries", "rowBegin", "rowEnd", "accumulate", "rowsPer", "sliceStride"),
	}
	// include/gemm.glsl.
	gemmContract = contract{
		bindings: slices.Concat(ro("a", "b"), rw("c")),
		push: slices.Concat(uints("M", "N", "K", "lda", "ldb", "ldc", "aoff", "boff", "coff"),
			floats("alpha", "beta")),
	}
	// include/ws_row.glsl, shared by forward and backward.
	wsPushFields = slices.Concat(uints("rows", "F"), floats("gamma_rsqrt_n", "eps"))
)

var contracts = map[string]contract{
	"act_gelu_erf":  actContract,
	"act_gelu_tanh": actContract,
	"act_relu":      actContract,
	"act_silu":      actContract,
	"axpby": {
		bindings: slices.Concat(ro("x"), rw("y")),
		push:     slices.Concat(uints("n"), floats("alpha", "beta")),
	},
	"conv2d_bias_grad": {
		bindings: slices.Concat(ro("dy"), rw("db")),
		push:     uints("n", "o", "plane", "e0", "e1", "accumulate"),
	},
	"conv2d_direct":      convDirectContract,
	"conv2d_direct_shuf": convDirectContract,
	"conv2d_filter":      convFilterContract,
	"conv2d_filter_shuf": convFilterContract,
	// to_half, to_float: the converted copies of precision FP16.
	"to_half": {
		bindings: slices.Concat(ro("x"), wo("y")),
		push:     uints("n"),
	},
	"to_float": {
		bindings: slices.Concat(ro("x"), wo("y")),
		push:     uints("n"),
	},
	"copy": {
		bindings: slices.Concat(ro("x"), wo("y")),
		push:     uints("n"),
	},
	"dropout": {
		bindings: slices.Concat(ro("seed", "x"), wo("y")),
		push:     slices.Concat(uints("n", "base_lo", "base_hi", "stream_lo", "stream_hi", "threshold"), floats("scale")),
	},
	"empty": {},
	"fill": {
		bindings: wo("y"),
		push:     slices.Concat(uints("n"), floats("value")),
	},
	"gemm_sg":    gemmContract,
	"gemm_tiled": gemmContract,
	"loss": {
		bindings: slices.Concat(ro("z", "labels", "targets"), wo("dz"), rw("scratch"), wo("loss", "correct")),
		push:     slices.Concat(uints("N", "K"), floats("eps", "grad")),
	},
	// loss_lane is stage 0 of loss alone: no stage-1 bindings.
	"loss_lane": {
		bindings: slices.Concat(ro("z", "labels", "targets"), wo("dz", "scratch")),
		push:     slices.Concat(uints("N", "K"), floats("eps", "grad")),
	},
	// ls_*: dynamic loss scaling (lossscale.go).
	"ls_check": {
		bindings: slices.Concat(ro("x"), rw("counts")),
		push:     uints("n"),
	},
	"ls_hyper": {
		bindings: slices.Concat(ro("counts", "h"), wo("o")),
	},
	"ls_scale": {
		bindings: slices.Concat(ro("s", "counts"), rw("x")),
		push:     uints("n", "unscale"),
	},
	"ls_update": {
		bindings: rw("s", "counts"),
		push:     uints("growth"),
	},
	"optim_ema": {
		bindings: slices.Concat(ro("hyper"), rw("ema"), ro("param")),
		push:     uints("n"),
	},
	"optim_sgd": {
		bindings: slices.Concat(ro("hyper"), rw("param"), ro("grad"), rw("momentum")),
		push:     uints("units", "size", "n", "flags", "p_off", "g_off", "m_off"),
	},
	"optim_sgd_multi": {
		bindings: slices.Concat(ro("hyper"), rw("param"), ro("grad"), rw("momentum"), ro("table")),
		push:     uints("entries", "units"),
	},
	"peak_fma": {
		bindings: wo("o"),
		push:     slices.Concat(uints("iters"), floats("b", "c")),
	},
	"pool": {
		bindings: slices.Concat(ro("x"), wo("y")),
		push:     slices.Concat(uints("total"), ints("H", "W", "OH", "OW", "pad_top", "pad_left"), uints("m_cols", "s_cols", "m_rows", "s_rows")),
	},
	"pool2x2": {
		bindings: slices.Concat(ro("x"), wo("y")),
		push:     uints("pairs", "H", "W4", "OH", "m_w4", "s_w4", "m_oh", "s_oh"),
	},
	"pool_global": {
		bindings: slices.Concat(ro("x", "dy", "z"), wo("y")),
		push:     slices.Concat(uints("planes", "hw"), floats("gain")),
	},
	"reduce_rows": {
		bindings: slices.Concat(ro("x"), wo("o")),
		push:     uints("rows", "cols", "n"),
	},
	// Forward binds out at 4; 5 and 6 are backward's.
	"residual": {
		bindings: slices.Concat(ro("shortcut", "h", "skip_gain", "mask"), wo("out", "dshortcut", "part")),
		push:     slices.Concat(uints("n", "start", "m_per", "s_per"), floats("alpha"), uints("part_off")),
	},
	"se": {
		bindings: slices.Concat(ro("x", "z", "dm"), wo("y")),
		push:     slices.Concat(uints("n", "m_hw", "s_hw"), floats("gain", "inv_hw"), uints("hw")),
	},
	"sum_slices": {
		bindings: slices.Concat(ro("part"), wo("dst")),
		push:     uints("n", "slices", "stride"),
	},
	"ws": {
		bindings: slices.Concat(ro("w", "gain"), wo("what")),
		push:     wsPushFields,
	},
	"ws_backward": {
		bindings: slices.Concat(ro("w", "gain", "dwhat"), wo("dw"), rw("dgain")),
		push:     wsPushFields,
	},
	// Forward writes what at 3; 2 and 4 are backward's.
	"ws_lane": {
		bindings: slices.Concat(ro("w", "gain", "dwhat"), wo("dw", "dgain")),
		push:     wsPushFields,
	},
}
