package kernels

import (
	"fmt"
)

// Compile-time maxima of the shaders' arrays (shaders/include/limits.glsl,
// which a test compares with these). The shaders declare every array whose
// used length depends on specialization constants at its maximum, since
// MoltenVK cannot size arrays from specialization constants; the planners
// stay within them and specLimits checks every pipeline against them.
const (
	maxReduceLocal = 256 // MAX_REDUCE_LOCAL: workgroups reducing through shared memory

	convMaxTO  = 32 // CONV_MAX_TO: output channels per invocation
	convMaxTP  = 8  // CONV_MAX_TP: positions per invocation
	convMaxKWC = 7  // CONV_MAX_KWC: kernel width of the window paths
	convMaxNW  = 8  // CONV_MAX_NW: shuffled values per lane, ceil(TO/subgroup)

	gemmSGMaxRG  = 8    // GEMM_SG_MAX_RG
	gemmSGMaxCQ  = 4    // GEMM_SG_MAX_CQ
	gemmSGMaxKQ  = 4    // GEMM_SG_MAX_KQ
	gemmSGMaxAcc = 256  // GEMM_SG_MAX_ACC: vec4 accumulators (R*CQ) per lane
	gemmSGShared = 2048 // GEMM_SG_SHARED: shared vec4s (WG*R*CQ), 32 KiB

	gemmTiledMaxTM  = 8    // GEMM_TILED_MAX_TM
	gemmTiledMaxTN  = 8    // GEMM_TILED_MAX_TN
	gemmTiledShared = 4096 // GEMM_TILED_SHARED: shared floats, 16 KiB
)

// specLimit checks the specialization constants of one shader against the
// maxima of its arrays; check reads constants 0..consts-1.
type specLimit struct {
	consts int
	check  func(spec []uint32) error
}

// atMost fails when the named value exceeds max (or is 0 where a count
// must be positive).
func atMost(name string, v uint32, max int, positive bool) error {
	if positive && v == 0 {
		return fmt.Errorf("%s is 0", name)
	}
	if int64(v) > int64(max) {
		return fmt.Errorf("%s = %d exceeds the shader's compile-time maximum %d (shaders/include/limits.glsl)", name, v, max)
	}
	return nil
}

// reduceLimit bounds the workgroup size (constant_id 0) of a kernel with
// one shared slot per invocation.
func reduceLimit(spec []uint32) error {
	return atMost("workgroup size", spec[0], maxReduceLocal, true)
}

// convLimit bounds TO, TP and KWC (constant_id to, to+1, kwc) and, for
// the *_shuf shaders, ceil(TO/SG) with SG at constant_id sg (0: none).
func convLimit(to, kwc, sg int) specLimit {
	return specLimit{max(to+2, kwc+1, sg+1), func(spec []uint32) error {
		if err := atMost("TO", spec[to], convMaxTO, true); err != nil {
			return err
		}
		if err := atMost("TP", spec[to+1], convMaxTP, true); err != nil {
			return err
		}
		if err := atMost("KWC", spec[kwc], convMaxKWC, false); err != nil {
			return err
		}
		if sg > 0 {
			if spec[sg] == 0 {
				return fmt.Errorf("subgroup size is 0")
			}
			return atMost("ceil(TO/SG)", (spec[to]+spec[sg]-1)/spec[sg], convMaxNW, true)
		}
		return nil
	}}
}

// gemmSGLimit bounds gemm_sg: spec WG, L, RG, CQ, KQ, ...
func gemmSGLimit(spec []uint32) error {
	wg, l, rg, cq, kq := uint64(spec[0]), uint64(spec[1]), spec[2], spec[3], spec[4]
	for _, c := range []struct {
		name string
		v    uint32
		max  int
	}{{"RG", rg, gemmSGMaxRG}, {"CQ", cq, gemmSGMaxCQ}, {"KQ", kq, gemmSGMaxKQ}} {
		if err := atMost(c.name, c.v, c.max, true); err != nil {
			return err
		}
	}
	acc := l * uint64(rg) * uint64(cq)
	if acc == 0 || acc > gemmSGMaxAcc {
		return fmt.Errorf("R*CQ = %d accumulators per lane, the shader holds %d (shaders/include/limits.glsl)", acc, gemmSGMaxAcc)
	}
	if wg*acc > gemmSGShared {
		return fmt.Errorf("WG*R*CQ = %d shared vec4s, the shader declares %d (shaders/include/limits.glsl)", wg*acc, gemmSGShared)
	}
	return nil
}

// gemmTiledFloats is the shared floats gemm_tiled uses with tile t:
// the A slice (with its padding row) and the B slice.
func gemmTiledFloats(tx, ty, tm, tn, bk uint32) uint64 {
	return uint64(bk) * (uint64(ty)*uint64(tm) + 1 + uint64(tx)*uint64(tn))
}

// gemmTiledLimit bounds gemm_tiled: spec TX, TY, TM, TN, BK, ...
func gemmTiledLimit(spec []uint32) error {
	if err := atMost("TM", spec[2], gemmTiledMaxTM, true); err != nil {
		return err
	}
	if err := atMost("TN", spec[3], gemmTiledMaxTN, true); err != nil {
		return err
	}
	if f := gemmTiledFloats(spec[0], spec[1], spec[2], spec[3], spec[4]); f > gemmTiledShared {
		return fmt.Errorf("BK*(TY*TM+1+TX*TN) = %d shared floats, the shader declares %d (shaders/include/limits.glsl)", f, gemmTiledShared)
	}
	return nil
}

// specLimits holds the check of every shader that declares arrays at a
// compile-time maximum; the others size nothing from specialization.
var specLimits = map[string]specLimit{
	"conv2d_bias_grad":   {1, reduceLimit},
	"conv2d_direct":      convLimit(1, 5, 0),
	"conv2d_direct_shuf": convLimit(1, 5, 6),
	"conv2d_filter":      convLimit(1, 3, 0),
	"conv2d_filter_shuf": convLimit(1, 3, 4),
	"gemm_sg":            {5, gemmSGLimit},
	"gemm_tiled":         {5, gemmTiledLimit},
	"loss":               {1, reduceLimit},
	"optim_sgd":          {1, reduceLimit},
	"optim_sgd_multi":    {1, reduceLimit},
	"reduce_rows":        {1, reduceLimit},
	"residual":           {1, reduceLimit},
	"ws":                 {1, reduceLimit},
	"ws_backward":        {1, reduceLimit},
}

// checkSpec holds a specialization of shader name to its arrays' maxima.
// The constants a check reads must be given (the planners give them all).
func checkSpec(name string, spec []uint32) error {
	lim, ok := specLimits[sourceName(name)]
	if !ok {
		return nil
	}
	if len(spec) < lim.consts {
		return fmt.Errorf("shader %s specialized with %v: its array sizes depend on constants 0..%d, give them all", name, spec, lim.consts-1)
	}
	if err := lim.check(spec); err != nil {
		return fmt.Errorf("shader %s specialized with %v: %w", name, spec, err)
	}
	return nil
}
