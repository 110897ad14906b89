package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// SGEMM: C = alpha*op(A)*op(B) + beta*C, row-major, any M, N, K, both
// transposes, any leading dimensions and offsets. Shaders: gemm_sg (CPU
// devices: subgroup register blocking, no shared memory) and gemm_tiled
// (GPUs: shared-memory tiles). Reference: ref.GEMM.
//
// 1024^3 fp32 on llvmpipe (LLVM 15.0.6, 256 bits), Mesa 22.3.6, 2-core
// AMD EPYC shared with a training run; GFLOP/s from GPU timestamps.
// One lavapipe thread, best of 3:
//
//	8x16 per invocation, scalar loads                           6 - 12
//	  + A spread over the lanes and subgroupBroadcast               13
//	  + vec4 loads, 16 x 128 per subgroup                      13 - 15
//	  + subgroupShuffle (Broadcast is a lane loop), 64 x 128   20 - 21
//	gemm_sg 32 x 128, KQ 2 (JIT 1.6 s)                         25 - 26
//	gemm_sg 64 x 128, KQ 2 (JIT 5.6 s)                         30 - 31
//
// Two threads, median of 7 (BenchmarkGEMMTiles): 64 x 128 KQ 2 (the cpu
// tile here): 31.0 (1024^3), 29.8 (1000^3), 31.7 (A^T B), 30.6 (A B^T);
// 32 x 128 KQ 1: 24.8; 32 x 256 KQ 1: 25.9; 64 x 256 KQ 1 and workgroups
// of 2 or 4 subgroups: no better.
//
// What decides the speed on llvmpipe: a buffer load whose address is not a
// compile-time constant (all of them, inside the K loop) compiles to a loop
// over the 8 lanes with a bounds check per component, about ten
// instructions per float loaded, while the FMAs are 8 wide. So the kernel
// maximises the reuse of each loaded float (register tiles in every lane,
// A shared across lanes by shuffles) and loads vec4s (4 floats per lane
// per loop turn). Same-address loads are scalar only outside loops, shared
// memory loads are lane loops too, and barrier() switches coroutines, so
// neither helps. About half the time is loads, half the FMAs (a multiply
// and an add: llvmpipe does not fuse). The JIT time grows with the number
// of memory access sites, which is why C is written through shared memory
// from a loop that is not unrolled.

// GEMMShape describes a GEMM; see ref.GEMMShape (row-major, leading
// dimensions in elements, 0 for packed).
type GEMMShape = ref.GEMMShape

// GEMMKernel selects the GEMM shader.
type GEMMKernel uint8

const (
	// GEMMTiled is gemm_tiled: shared-memory tiles, for GPUs.
	GEMMTiled GEMMKernel = iota
	// GEMMSubgroup is gemm_sg: register tiles spread over a subgroup, for
	// CPU devices (needs subgroup shuffles and a subgroup size that is a
	// multiple of 4).
	GEMMSubgroup
)

// GEMMTile is a GEMM tile configuration: the specialization constants of
// the gemm shaders, chosen per device class by the Tuning table.
type GEMMTile struct {
	Kernel GEMMKernel
	// WG is the workgroup size: WG invocations, a multiple of the subgroup
	// size (gemm_sg), or WG x WG (gemm_tiled).
	WG uint32
	// TM, TN: gemm_sg: each subgroup of L lanes computes TM*L rows x
	// TN*4*L columns (each lane TM*L x 4*TN). gemm_tiled: each invocation
	// computes TM x TN outputs.
	TM, TN uint32
	// TK: gemm_sg: k quads per loop step; gemm_tiled: the k depth BK of a
	// shared-memory slice.
	TK uint32
	// BigTM, when set, replaces TM for GEMMs of at least gemmBig
	// multiply-adds: a taller gemm_sg tile loads less per FMA but takes
	// longer to JIT, which only a long GEMM repays.
	BigTM uint32
}

// gemmBig is the size (M*N*K) from which GEMMTile.BigTM applies: 2^28
// multiply-adds, about 20 ms on lavapipe, e.g. 512 x 512 x 1024.
const gemmBig = 1 << 28

var (
	// gemmTileCPU: 32 x 128 per subgroup of 8 (1.6 s to JIT on lavapipe),
	// 64 x 128 for big GEMMs (20% faster, 5.6 s to JIT).
	gemmTileCPU = GEMMTile{Kernel: GEMMSubgroup, WG: 8, TM: 4, TN: 4, TK: 2, BigTM: 8}
	// gemmTileGPU: 16 x 16 invocations of 8 x 8 outputs, 128 x 128 per
	// workgroup, k slices of 16 (16.5 KiB of shared memory), which gemmFit
	// halves to 8 to fit gemm_tiled's 16 KiB: what every device offers.
	gemmTileGPU = GEMMTile{Kernel: GEMMTiled, WG: 16, TM: 8, TN: 8, TK: 16}
)

// gemmMaxDispatches bounds the dispatches one GEMM may split into.
const gemmMaxDispatches = 4096

// gemmConfig is a tile fitted to a device and a shape.
type gemmConfig struct {
	tile   GEMMTile
	l      uint32 // subgroup size (gemm_sg)
	bm, bn int    // rows and columns of C per workgroup
}

// spec returns the shader name and specialization constants.
func (g gemmConfig) spec(s GEMMShape, va, vb, vc bool) (string, []uint32) {
	t := g.tile
	if t.Kernel == GEMMSubgroup {
		return "gemm_sg", []uint32{t.WG, g.l, t.TM, t.TN, t.TK, b2u32(s.TransA), b2u32(s.TransB), b2u32(va), b2u32(vb), b2u32(vc)}
	}
	return "gemm_tiled", []uint32{t.WG, t.WG, t.TM, t.TN, t.TK, b2u32(s.TransA), b2u32(s.TransB)}
}

func b2u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// pow2Floor is the largest power of two <= n (n >= 1).
func pow2Floor(n int) uint32 {
	p := uint32(1)
	for int(p)*2 <= n {
		p *= 2
	}
	return p
}

// gemmFit fits tile to the device (workgroup and shared-memory limits,
// subgroup support) and shrinks gemm_sg tiles for small M and N (to powers
// of two, so few pipelines are built).
func gemmFit(info engine.DeviceInfo, tile GEMMTile, s GEMMShape) (gemmConfig, error) {
	if tile.Kernel == GEMMSubgroup {
		l := info.SubgroupSize
		if !info.SubgroupShuffle || l < 4 || l%4 != 0 || l > info.MaxWorkgroupInvocs ||
			uint64(l)*uint64(l) > gemmSGShared || uint64(info.SharedMemoryBytes) < 16*gemmSGShared {
			// Without shuffles (or with odd subgroups, subgroups too wide
			// for gemm_sg's smallest tile, or less shared memory than it
			// declares) the tiled kernel works everywhere.
			tile = GEMMTile{Kernel: GEMMTiled, WG: 8, TM: 4, TN: 4, TK: 8}
		} else {
			if tile.TM == 0 || tile.TN == 0 || tile.TK == 0 {
				return gemmConfig{}, fmt.Errorf("gemm: bad tile %+v", tile)
			}
			if tile.BigTM > 0 && int64(s.M)*int64(s.N)*int64(s.K) >= gemmBig {
				tile.TM = tile.BigTM
			}
			tile.BigTM = 0
			tile.WG = max(tile.WG/l, 1) * l
			for tile.WG > l && (tile.WG > info.MaxWorkgroupInvocs || tile.WG > info.MaxWorkgroupSize[0]) {
				tile.WG -= l
			}
			tile.TM = min(tile.TM, pow2Floor(ceilDiv(s.M, int(l))))
			tile.TN = min(tile.TN, pow2Floor(ceilDiv(s.N, 4*int(l))))
			// C leaves through shared memory: WG * rows * columns floats,
			// within the shader's compile-time arrays (limits.go).
			acc := func() uint64 { return uint64(tile.TM*l) * uint64(tile.TN) } // vec4s per lane
			for uint64(tile.WG)*acc() > gemmSGShared || acc() > gemmSGMaxAcc {
				switch {
				case tile.WG > l:
					tile.WG -= l
				case tile.TM > 1:
					tile.TM /= 2
				case tile.TN > 1:
					tile.TN /= 2
				default:
					return gemmConfig{}, fmt.Errorf("gemm: a subgroup of %d lanes is too wide for gemm_sg's arrays", l)
				}
			}
			r := int(tile.TM * l)
			return gemmConfig{tile: tile, l: l, bm: int(tile.WG/l) * r, bn: int(4 * tile.TN * l)}, nil
		}
	}
	if tile.WG == 0 || tile.TM == 0 || tile.TN == 0 || tile.TK == 0 {
		return gemmConfig{}, fmt.Errorf("gemm: bad tile %+v", tile)
	}
	for tile.WG > 1 && (tile.WG*tile.WG > info.MaxWorkgroupInvocs || tile.WG > info.MaxWorkgroupSize[0] || tile.WG > info.MaxWorkgroupSize[1]) {
		tile.WG /= 2
	}
	shared := func(t GEMMTile) uint64 { return 4 * gemmTiledFloats(t.WG, t.WG, t.TM, t.TN, t.TK) }
	for shared(tile) > min(uint64(info.SharedMemoryBytes), 4*gemmTiledShared) {
		switch {
		case tile.TK > 1:
			tile.TK /= 2
		case tile.TM > 1 || tile.TN > 1:
			tile.TM, tile.TN = max(tile.TM/2, 1), max(tile.TN/2, 1)
		default:
			return gemmConfig{}, fmt.Errorf("gemm: %d bytes of shared memory are too few for gemm_tiled", info.SharedMemoryBytes)
		}
	}
	return gemmConfig{tile: tile, bm: int(tile.WG * tile.TM), bn: int(tile.WG * tile.TN)}, nil
}

// gemmSplit returns chunk sizes such that every chunk's bindings span at
// most limit elements (maxStorageBufferRange) and its grid fits the
// device's workgroup counts. A span of r stored rows of stride ld and width
// w covers (r-1)*ld + w elements, so each constraint caps the number of
// stored rows of one matrix, or first its width when a single row is too
// long. Every span grows with every chunk size, so caps applied once each
// hold together.
func gemmSplit(s GEMMShape, limit, bm, bn int, maxGroups [3]uint32) (mc, nc, kc int) {
	mc, nc, kc = s.M, s.N, s.K
	mc = min(mc, int(maxGroups[1])*bm)
	nc = min(nc, int(maxGroups[0])*bn)
	fit := func(rows, width *int, ld int) {
		*width = min(*width, limit)
		if (*rows-1)*ld+*width > limit {
			*rows = (limit-*width)/ld + 1
		}
	}
	if s.TransA {
		fit(&kc, &mc, s.Lda())
	} else {
		fit(&mc, &kc, s.Lda())
	}
	if s.TransB {
		fit(&nc, &kc, s.Ldb())
	} else {
		fit(&kc, &nc, s.Ldb())
	}
	fit(&mc, &nc, s.Ldc())
	// Whole tiles, and k quads, keep chunk offsets aligned for vec4 loads.
	if mc < s.M && mc >= bm {
		mc = mc / bm * bm
	}
	if nc < s.N && nc >= bn {
		nc = nc / bn * bn
	}
	if kc < s.K && kc >= 4 {
		kc &^= 3
	}
	return mc, nc, kc
}

// gemmBinding is one matrix's binding for one dispatch.
type gemmBinding struct {
	arg engine.Arg
	off uint32 // element offset of the matrix in the binding
	vec bool   // vec4 access is allowed
}

// gemmBind binds the part of span s that a chunk reads or writes: start is
// its first element, rows x width stored elements of stride ld. The
// binding starts at the device's offset alignment below start. vec4
// access needs ld and the offset to be multiples of 4 and, for vec4 loads
// (quad), the binding to reach the end of the last row's last quad.
func (k *Kernels) gemmBind(s engine.Span, start, rows, width, ld int, quad bool, acc engine.Access) gemmBinding {
	align := int64(max(k.dev.Info().MinStorageBufferOffsetAlignment, 16))
	first := s.Off + 4*int64(start)
	base := first &^ (align - 1)
	need := (rows-1)*ld + width
	vec := ld%4 == 0 && (first-base)%16 == 0
	if vec && quad {
		ext := (rows-1)*ld + ((width + 3) &^ 3)
		if int64(4*(start+ext)) <= s.Size {
			need = ext
		} else {
			vec = false
		}
	}
	return gemmBinding{
		arg: engine.Arg{Span: engine.Span{Buf: s.Buf, Off: base, Size: first + 4*int64(need) - base}, Access: acc},
		off: uint32((first - base) / 4),
		vec: vec,
	}
}

// GEMM records C = alpha*op(A)*op(B) + beta*C (SGEMM) for row-major
// matrices in the spans a, b, c, which hold s.ALen(), s.BLen() and s.CLen()
// elements at least. With beta == 0, C is not read (it may hold NaN).
// Elements of C outside the M x N window are not written. C must not
// overlap A or B. Matrices larger than the device's maxStorageBufferRange
// are split into several dispatches (along M, N or K as their layout
// requires).
func (k *Kernels) GEMM(p *engine.Program, s GEMMShape, alpha float32, a engine.Span, b engine.Span, beta float32, c engine.Span) error {
	limit := int(k.dev.Info().MaxStorageBufferRange / 4)
	k.noteGEMM(s)
	return k.gemm(p, s, alpha, a, b, beta, c, k.gemmTile(s), limit)
}

// gemm is GEMM with the tile and the binding limit (in elements) given,
// so tests can exercise every kernel and the splitting on small matrices.
func (k *Kernels) gemm(p *engine.Program, s GEMMShape, alpha float32, a, b engine.Span, beta float32, c engine.Span, tile GEMMTile, limit int) error {
	op := fmt.Sprintf("gemm %+v", s)
	if err := s.Validate(); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		span engine.Span
		n    int
	}{{"a", a, s.ALen()}, {"b", b, s.BLen()}, {"c", c, s.CLen()}} {
		if err := needElems(op, m.name, m.span, m.n); err != nil {
			return err
		}
		if m.span.Off%4 != 0 {
			return fmt.Errorf("%s: %s starts at byte %d, not a float32 boundary", op, m.name, m.span.Off)
		}
	}
	for _, m := range []struct {
		name string
		span engine.Span
	}{{"a", a}, {"b", b}} {
		if m.span.Buf == c.Buf && m.span.Off < c.Off+c.Size && c.Off < m.span.Off+m.span.Size {
			return fmt.Errorf("%s: c overlaps %s", op, m.name)
		}
	}
	cfg, mc, nc, kc, err := k.gemmChunks(s, tile, limit)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Plan every dispatch (pipelines included) before recording any, so a
	// failure leaves the program as it was.
	type dispatch struct {
		label  string
		pipe   *pipe
		groups [3]uint32
		push   []byte
		args   [3]engine.Arg
	}
	var plan []dispatch
	lda, ldb, ldc := s.Lda(), s.Ldb(), s.Ldc()
	split := mc < s.M || nc < s.N || kc < s.K
	for m0 := 0; m0 < s.M; m0 += mc {
		for n0 := 0; n0 < s.N; n0 += nc {
			for k0 := 0; k0 < s.K; k0 += kc {
				sub := GEMMShape{M: min(mc, s.M-m0), N: min(nc, s.N-n0), K: min(kc, s.K-k0), TransA: s.TransA, TransB: s.TransB, LDA: lda, LDB: ldb, LDC: ldc}
				var ab, bb gemmBinding
				if s.TransA {
					ab = k.gemmBind(a, k0*lda+m0, sub.K, sub.M, lda, true, engine.Read)
				} else {
					ab = k.gemmBind(a, m0*lda+k0, sub.M, sub.K, lda, true, engine.Read)
				}
				if s.TransB {
					bb = k.gemmBind(b, n0*ldb+k0, sub.N, sub.K, ldb, true, engine.Read)
				} else {
					bb = k.gemmBind(b, k0*ldb+n0, sub.K, sub.N, ldb, true, engine.Read)
				}
				// Later K chunks accumulate into what the first wrote.
				cbeta := beta
				if k0 > 0 {
					cbeta = 1
				}
				cacc := engine.ReadWrite
				if cbeta == 0 {
					cacc = engine.Write
				}
				cb := k.gemmBind(c, m0*ldc+n0, sub.M, sub.N, ldc, false, cacc)
				name, spec := cfg.spec(sub, ab.vec, bb.vec, cb.vec)
				pipe, err := k.pipeline(name, spec...)
				if err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				label := fmt.Sprintf("gemm %dx%dx%d%s", s.M, s.N, s.K, transName(s))
				if split {
					label += fmt.Sprintf(" [%d:%d,%d:%d,%d:%d]", m0, m0+sub.M, n0, n0+sub.N, k0, k0+sub.K)
				}
				d := dispatch{
					label:  label,
					pipe:   pipe,
					groups: [3]uint32{uint32(ceilDiv(sub.N, cfg.bn)), uint32(ceilDiv(sub.M, cfg.bm)), 1},
					push:   pushBuf(nil).i(sub.M).i(sub.N).i(sub.K).i(lda).i(ldb).i(ldc).u(ab.off).u(bb.off).u(cb.off).f(alpha).f(cbeta),
					args:   [3]engine.Arg{ab.arg, bb.arg, cb.arg},
				}
				if err := checkDispatch(name, d.push, d.args[:]); err != nil {
					return fmt.Errorf("%s: %w", op, err)
				}
				plan = append(plan, d)
			}
		}
	}
	for _, d := range plan {
		if err := k.dispatch(p, d.label, d.pipe, d.groups, d.push, d.args[:]...); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

// gemmChunks fits tile to the device and s and chooses the chunk sizes
// of its dispatches: within the binding limit (elements), the grid, and
// along K the lane budget (every invocation runs the chunk's K steps).
func (k *Kernels) gemmChunks(s GEMMShape, tile GEMMTile, limit int) (cfg gemmConfig, mc, nc, kc int, err error) {
	info := k.dev.Info()
	cfg, err = gemmFit(info, tile, s)
	if err != nil {
		return cfg, 0, 0, 0, err
	}
	// Room for the binding's alignment and a last partial quad.
	limit -= int(max(info.MinStorageBufferOffsetAlignment, 16)/4) + 3
	if limit < 1 {
		return cfg, 0, 0, 0, fmt.Errorf("maxStorageBufferRange %d is too small", info.MaxStorageBufferRange)
	}
	mc, nc, kc = gemmSplit(s, limit, cfg.bm, cfg.bn, info.MaxWorkgroupCount)
	if b := k.tune.LaneBudget; b > 0 {
		// Every invocation runs the chunk's K steps (lanework.go's model):
		// k quads keep chunk offsets aligned for vec4 loads.
		per := b - 1 // gemm_sg
		if t := cfg.tile; t.Kernel == GEMMTiled {
			per = b / gemmTiledSliceWork(t.WG, t.WG, t.TM, t.TN, t.TK) * int(t.TK)
		}
		kc = min(kc, max(per&^3, 4))
	}
	if n := ceilDiv(s.M, mc) * ceilDiv(s.N, nc) * ceilDiv(s.K, kc); n > gemmMaxDispatches {
		return cfg, 0, 0, 0, fmt.Errorf("needs %d dispatches (chunks of %dx%dx%d) to fit maxStorageBufferRange %d bytes, %v workgroups and a lane budget of %d, more than %d",
			n, mc, nc, kc, info.MaxStorageBufferRange, info.MaxWorkgroupCount, k.tune.LaneBudget, gemmMaxDispatches)
	}
	return cfg, mc, nc, kc, nil
}

// transName is "" for op(A)*op(B) = A*B, else " AT*B" etc.
func transName(s GEMMShape) string {
	if !s.TransA && !s.TransB {
		return ""
	}
	n := " A"
	if s.TransA {
		n += "T"
	}
	n += "*B"
	if s.TransB {
		n += "T"
	}
	return n
}
