package kernels

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// gemmCase is one GEMM of the conformance table. offA/offB/offC are the
// element offsets of the matrices in their buffers (odd ones rule out vec4
// access), padA/padB/padC are added to the packed leading dimensions.
type gemmCase struct {
	s                GEMMShape
	alpha, beta      float32
	offA, offB, offC int
	padA, padB, padC int
	wantSplit        bool
	// chunks bounds the K chunks the GEMM was split into: each rounds C
	// once more (see check).
	chunks           int
	bufA, bufB, bufC *engine.Buffer
	a, b, c0         []float32
	lenA, lenB, lenC int
}

func (g *gemmCase) String() string {
	s := g.s
	return fmt.Sprintf("%dx%dx%d%s/ld+%d,%d,%d/off%d,%d,%d/a%g,b%g", s.M, s.N, s.K, transName(s), g.padA, g.padB, g.padC, g.offA, g.offB, g.offC, g.alpha, g.beta)
}

// gemmTable is the conformance table: sizes 1, 7, 13, 64, 129 and 1000
// (with small others), all four transposes, packed and padded leading
// dimensions (+4 keeps vec4 access, +3 and odd offsets force scalar
// access), and alpha/beta with beta = 0 over a NaN-filled C.
func gemmTable() []*gemmCase {
	dims := [][3]int{
		{1, 1, 1}, {7, 13, 1}, {13, 7, 129}, {64, 64, 64}, {129, 7, 13}, {7, 129, 64},
		{1, 129, 1000}, {1000, 13, 7}, {13, 1000, 7}, {64, 1, 1000}, {129, 129, 129},
	}
	ab := [][2]float32{{1, 0}, {0.5, -1.5}, {-2, 1}, {1.25, 0}}
	var cs []*gemmCase
	i := 0
	for _, d := range dims {
		for tr := 0; tr < 4; tr++ {
			for _, padded := range []bool{false, true} {
				g := &gemmCase{s: GEMMShape{M: d[0], N: d[1], K: d[2], TransA: tr&1 != 0, TransB: tr&2 != 0}}
				g.alpha, g.beta = ab[i%len(ab)][0], ab[i%len(ab)][1]
				if padded {
					// Alternate between aligned (+4, offset 8) and unaligned
					// (+3, odd offset) padding.
					if i%2 == 0 {
						g.padA, g.padB, g.padC, g.offA, g.offB, g.offC = 4, 4, 4, 8, 4, 12
					} else {
						g.padA, g.padB, g.padC, g.offA, g.offB, g.offC = 3, 5, 3, 1, 3, 5
					}
				}
				cs = append(cs, g)
				i++
			}
		}
	}
	return cs
}

// setup fills in the leading dimensions and uploads the matrices: A and B
// random, C random (NaN when beta == 0) with NaN in its padding too,
// which must come back untouched.
func (g *gemmCase) setup(t *testing.T, d *engine.Device, seed uint64) {
	t.Helper()
	s := &g.s
	if g.padA > 0 || g.padB > 0 || g.padC > 0 {
		s.LDA, s.LDB, s.LDC = s.Lda()+g.padA, s.Ldb()+g.padB, s.Ldc()+g.padC
	}
	g.lenA, g.lenB, g.lenC = s.ALen(), s.BLen(), s.CLen()
	g.a = randn(seed, g.offA+g.lenA, 1)
	g.b = randn(seed+1, g.offB+g.lenB, 1)
	g.c0 = randn(seed+2, g.offC+g.lenC, 1)
	if g.beta == 0 {
		g.c0 = nans(len(g.c0))
	}
	ldc := s.Ldc()
	for i := range g.c0 {
		if j := i - g.offC; j < 0 || j%ldc >= s.N {
			g.c0[i] = float32(math.NaN())
		}
	}
	g.bufA, g.bufB, g.bufC = upload(t, d, g.a), upload(t, d, g.b), upload(t, d, g.c0)
}

func (g *gemmCase) spans() (a, b, c engine.Span) {
	return g.bufA.Span().Sub(int64(4*g.offA), int64(4*g.lenA)),
		g.bufB.Span().Sub(int64(4*g.offB), int64(4*g.lenB)),
		g.bufC.Span().Sub(int64(4*g.offC), int64(4*g.lenC))
}

// check compares C with the float64 reference. The bound is the standard
// forward error of a float32 dot product in any summation order (Higham,
// Accuracy and Stability, eq. 3.5): |fl(x.y) - x.y| <= gamma_K |x|.|y|
// with gamma_n = n*u/(1-n*u), u = 2^-24; the scaling by alpha, the product
// beta*c and the final add are three more roundings, and each extra K
// chunk rounds C once more: gamma_{K+2+chunks} (|alpha| |A||B| + |beta||C|),
// per element, computed from the absolute values. It holds with or without
// FMA contraction. Elements outside the M x N window must be bitwise
// unchanged (NaN).
func (g *gemmCase) check(t *testing.T, got []float32) {
	t.Helper()
	s := g.s
	f64 := func(v []float32, off, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(v[off+i])
		}
		return out
	}
	abs := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = math.Abs(x)
		}
		return out
	}
	a, b, c := f64(g.a, g.offA, g.lenA), f64(g.b, g.offB, g.lenB), f64(g.c0, g.offC, g.lenC)
	want := append([]float64(nil), c...)
	ref.GEMM(s, float64(g.alpha), a, b, float64(g.beta), want)
	bound := append([]float64(nil), abs(c)...)
	ref.GEMM(s, math.Abs(float64(g.alpha)), abs(a), abs(b), math.Abs(float64(g.beta)), bound)
	n := float64(s.K + 2 + max(g.chunks, 1))
	u := math.Ldexp(1, -24)
	gamma := n * u / (1 - n*u)
	ldc := s.Ldc()
	bad := 0
	for i := range g.c0 {
		j := i - g.offC
		inside := j >= 0 && j < g.lenC && j%ldc < s.N
		gv := got[i]
		if !inside {
			if math.Float32bits(gv) != math.Float32bits(g.c0[i]) {
				if bad < 5 {
					t.Errorf("%v: c[%d] outside the window changed: %v", g, i, gv)
				}
				bad++
			}
			continue
		}
		if e := math.Abs(float64(gv) - want[j]); !(e <= gamma*bound[j]) {
			if bad < 5 {
				t.Errorf("%v: c[%d,%d] = %v, want %v (error %.3g > bound %.3g)", g, j/ldc, j%ldc, gv, want[j], e, gamma*bound[j])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%v: %d wrong elements", g, bad)
	}
}

// runGEMMTable records every case into one program (one submit) with the
// given tile and binding limit, runs it and checks every C. It returns the
// pipelines used.
func runGEMMTable(t *testing.T, d *engine.Device, k *Kernels, cases []*gemmCase, tile GEMMTile, limit int) map[string]bool {
	t.Helper()
	return runGEMMTableTiles(t, d, k, cases, []GEMMTile{tile}, limit)
}

// runGEMMTableTiles is runGEMMTable with case i on tiles[i%len(tiles)].
func runGEMMTableTiles(t *testing.T, d *engine.Device, k *Kernels, cases []*gemmCase, tiles []GEMMTile, limit int) map[string]bool {
	t.Helper()
	for i, g := range cases {
		g.setup(t, d, uint64(10*i+1))
	}
	pipes := map[string]bool{}
	runProgram(t, k, func(p *engine.Program) error {
		defer func() {
			for _, di := range p.Dispatches() {
				pipes[di.Pipeline] = true
			}
		}()
		for i, g := range cases {
			a, b, c := g.spans()
			n := p.Len()
			if err := k.gemm(p, g.s, g.alpha, a, b, g.beta, c, tiles[i%len(tiles)], limit); err != nil {
				return fmt.Errorf("%v: %w", g, err)
			}
			// Each element sees at most one rounding of C per dispatch.
			g.chunks = p.Len() - n
			if g.wantSplit && g.chunks < 2 {
				return fmt.Errorf("%v: %d dispatches, want a split", g, g.chunks)
			}
		}
		return nil
	})
	for _, g := range cases {
		g.check(t, download(t, g.bufC))
	}
	return pipes
}

// Test tiles: small ones JIT quickly on lavapipe and still exercise every
// index path (several row groups, column quads, k quads per step).
var (
	gemmTestTileSG    = GEMMTile{Kernel: GEMMSubgroup, WG: 16, TM: 2, TN: 2, TK: 2}
	gemmTestTileTiled = GEMMTile{Kernel: GEMMTiled, WG: 4, TM: 2, TN: 3, TK: 4}
)

func TestGEMMConformance(t *testing.T) {
	d, k := testDevice(t)
	limit := int(d.Info().MaxStorageBufferRange / 4)
	for _, tc := range []struct {
		name string
		tile GEMMTile
	}{{"sg", gemmTestTileSG}, {"tiled", gemmTestTileTiled}} {
		t.Run(tc.name, func(t *testing.T) {
			pipes := runGEMMTable(t, d, k, gemmTable(), tc.tile, limit)
			if tc.tile.Kernel != GEMMSubgroup {
				return
			}
			// The table must reach both the vec4 and the scalar paths
			// (the last three spec constants: VA, VB, VC).
			for _, want := range []string{" 1 1 1]", " 0 0 0]"} {
				found := false
				for name := range pipes {
					found = found || strings.HasSuffix(name, want)
				}
				if !found {
					t.Errorf("no gemm_sg pipeline ending in %q among %v", want, pipes)
				}
			}
		})
	}
}

// TestGEMMTuned runs the device's own tile (what GEMM uses) on shapes big
// enough for full tiles, with vec4 and scalar access. (Its BigTM variant
// takes 5-10 s to JIT on lavapipe; BenchmarkGEMMTiles checks its results.)
func TestGEMMTuned(t *testing.T) {
	d, k := testDevice(t)
	// 129x200x64: vec4 loads in every transpose; 70x1000x13: K and M not
	// multiples of 4, so A (and B^T) fall back to scalar loads.
	var cases []*gemmCase
	for tr := 0; tr < 4; tr++ {
		cases = append(cases, &gemmCase{s: GEMMShape{M: 129, N: 200, K: 64, TransA: tr&1 != 0, TransB: tr&2 != 0}, alpha: 1, beta: float32(tr%2) * 0.5})
	}
	for _, tr := range []bool{false, true} {
		cases = append(cases, &gemmCase{s: GEMMShape{M: 70, N: 1000, K: 13, TransA: tr, TransB: tr}, alpha: 0.5, beta: 0})
	}
	for i, g := range cases {
		g.setup(t, d, uint64(100+i))
	}
	runProgram(t, k, func(p *engine.Program) error {
		for _, g := range cases {
			a, b, c := g.spans()
			if err := k.GEMM(p, g.s, g.alpha, a, b, g.beta, c); err != nil {
				return err
			}
		}
		return nil
	})
	for _, g := range cases {
		g.check(t, download(t, g.bufC))
	}
}

// TestGEMMSplit forces the maxStorageBufferRange split with a small
// binding limit: M, N and K chunks, every transpose, and checks that later
// K chunks wait for the earlier ones (a barrier, not lavapipe's in-order
// execution, orders them).
func TestGEMMSplit(t *testing.T) {
	d, k := testDevice(t)
	var cases []*gemmCase
	for tr := 0; tr < 4; tr++ {
		for _, beta := range []float32{0, 0.75} {
			// With 700 elements per binding: a few rows of each matrix per chunk.
			cases = append(cases, &gemmCase{s: GEMMShape{M: 45, N: 70, K: 38, TransA: tr&1 != 0, TransB: tr&2 != 0},
				alpha: 1.5, beta: beta, padA: 4, padB: 1, wantSplit: true})
		}
	}
	for _, tile := range []GEMMTile{gemmTestTileSG, gemmTestTileTiled} {
		runGEMMTable(t, d, k, cases, tile, 700)
	}
	// Barriers: a program holding one split GEMM.
	g := cases[1]
	a, b, c := g.spans()
	p := d.NewProgram("split", engine.ProgramOptions{})
	defer p.Close()
	if err := k.gemm(p, g.s, g.alpha, a, b, g.beta, c, gemmTestTileSG, 700); err != nil {
		t.Fatal(err)
	}
	ds := p.Dispatches()
	chained := 0
	for i := 1; i < len(ds); i++ {
		if l := ds[i].Label; strings.HasPrefix(l[strings.LastIndex(l, ",")+1:], "0:") {
			continue // the first K chunk of a block does not read C
		}
		chained++
		if !ds[i].BarrierBefore {
			t.Errorf("dispatch %d (%s) accumulates into C without a barrier", i, ds[i].Label)
		}
	}
	if chained == 0 {
		t.Errorf("no K chunks in %d dispatches", len(ds))
	}
}

func TestGEMMRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	buf, err := d.NewBuffer("gemm bad", 4*4096)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Free()
	sp := func(off, n int) engine.Span { return buf.Span().Sub(int64(off), int64(4*n)) }
	ok := GEMMShape{M: 4, N: 5, K: 6}
	a, b, c := sp(0, 24), sp(4*24, 30), sp(4*64, 20)
	for _, tc := range []struct {
		name    string
		s       GEMMShape
		a, b, c engine.Span
		want    string
	}{
		{"zero M", GEMMShape{M: 0, N: 5, K: 6}, a, b, c, "positive"},
		{"negative N", GEMMShape{M: 4, N: -1, K: 6}, a, b, c, "positive"},
		{"zero K", GEMMShape{M: 4, N: 5, K: 0}, a, b, c, "positive"},
		{"negative LDA", GEMMShape{M: 4, N: 5, K: 6, LDA: -1}, a, b, c, "negative"},
		{"LDA < K", GEMMShape{M: 4, N: 5, K: 6, LDA: 5}, a, b, c, "LDA"},
		{"LDA < M transposed", GEMMShape{M: 4, N: 5, K: 6, TransA: true, LDA: 3}, a, b, c, "LDA"},
		{"LDB < N", GEMMShape{M: 4, N: 5, K: 6, LDB: 4}, a, b, c, "LDB"},
		{"LDB < K transposed", GEMMShape{M: 4, N: 5, K: 6, TransB: true, LDB: 5}, a, b, c, "LDB"},
		{"LDC < N", GEMMShape{M: 4, N: 5, K: 6, LDC: 4}, a, b, c, "LDC"},
		{"A too short", ok, sp(0, 23), b, c, "a holds 23"},
		{"B too short", ok, a, sp(4*24, 29), c, "b holds 29"},
		{"C too short", ok, a, b, sp(4*64, 19), "c holds 19"},
		{"padded C too short", GEMMShape{M: 4, N: 5, K: 6, LDC: 8}, a, b, sp(4*64, 28), "c holds 28"},
		{"nil buffer", ok, engine.Span{Size: 96}, b, c, "no buffer"},
		{"misaligned", ok, a, b, sp(4*64+2, 20), "float32 boundary"},
		{"C overlaps A", ok, a, b, sp(4*20, 20), "overlaps a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := d.NewProgram("bad", engine.ProgramOptions{})
			defer p.Close()
			err := k.GEMM(p, tc.s, 1, tc.a, tc.b, 0, tc.c)
			if err == nil {
				t.Fatalf("accepted %+v", tc.s)
			}
			msg := err.Error()
			if !strings.Contains(msg, "gemm") || !strings.Contains(msg, "M:") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name gemm, the shape and %q", msg, tc.want)
			}
			if p.Len() != 0 {
				t.Errorf("recorded %d dispatches before failing", p.Len())
			}
		})
	}
}

// TestGEMMFit checks the tile fitting against device limits without a
// device: shared memory, workgroup size and missing subgroup shuffles.
func TestGEMMFit(t *testing.T) {
	lavapipe := engine.DeviceInfo{SubgroupSize: 8, SubgroupShuffle: true, SharedMemoryBytes: 32 << 10,
		MaxWorkgroupSize: [3]uint32{1024, 1024, 1024}, MaxWorkgroupInvocs: 1024}
	big := GEMMShape{M: 1024, N: 1024, K: 1024}
	cfg, err := gemmFit(lavapipe, gemmTileCPU, big)
	if err != nil || cfg.tile.TM != gemmTileCPU.BigTM || cfg.tile.TN != gemmTileCPU.TN || cfg.bm != 64 || cfg.bn != 128 {
		t.Errorf("lavapipe cpu tile, 1024^3: %+v, %v", cfg, err)
	}
	cfg, err = gemmFit(lavapipe, gemmTileCPU, GEMMShape{M: 256, N: 256, K: 256})
	if err != nil || cfg.tile.TM != gemmTileCPU.TM || cfg.bm != 32 || cfg.bn != 128 {
		t.Errorf("lavapipe cpu tile, 256^3: %+v, %v", cfg, err)
	}
	// Small shapes shrink the tile to powers of two.
	cfg, _ = gemmFit(lavapipe, gemmTileCPU, GEMMShape{M: 20, N: 30, K: 3})
	if cfg.tile.TM != 2 || cfg.tile.TN != 1 {
		t.Errorf("20x30: %+v", cfg.tile)
	}
	// No shuffles: the tiled kernel.
	noShuffle := lavapipe
	noShuffle.SubgroupShuffle = false
	if cfg, _ := gemmFit(noShuffle, gemmTileCPU, big); cfg.tile.Kernel != GEMMTiled {
		t.Errorf("without shuffles: %+v", cfg.tile)
	}
	// A GPU with 16 KiB of shared memory and 256 invocations.
	small := engine.DeviceInfo{SharedMemoryBytes: 16 << 10, MaxWorkgroupSize: [3]uint32{256, 256, 64}, MaxWorkgroupInvocs: 128}
	cfg, err = gemmFit(small, gemmTileGPU, big)
	if err != nil || cfg.tile.WG*cfg.tile.WG > 128 || 4*cfg.tile.TK*(cfg.tile.WG*cfg.tile.TM+1+cfg.tile.WG*cfg.tile.TN) > 16<<10 {
		t.Errorf("small GPU: %+v, %v", cfg, err)
	}
}

// TestGEMMFitStaysWithinShaderArrays fits every tuning's tile to devices
// of several subgroup sizes and shared-memory sizes and holds the result
// to the compile-time maxima of the shaders' arrays (checkSpec): the
// fitting, not a pipeline failure, must keep a tile within them.
func TestGEMMFitStaysWithinShaderArrays(t *testing.T) {
	shapes := []GEMMShape{{M: 1024, N: 1024, K: 1024}, {M: 256, N: 256, K: 256}, {M: 20, N: 30, K: 3}, {M: 32, N: 1000, K: 3072}}
	for _, sg := range []uint32{4, 8, 16, 32, 64} {
		for _, shared := range []uint32{16 << 10, 32 << 10, 48 << 10, 64 << 10} {
			info := engine.DeviceInfo{SubgroupSize: sg, SubgroupShuffle: true, SharedMemoryBytes: shared,
				MaxWorkgroupSize: [3]uint32{1024, 1024, 64}, MaxWorkgroupInvocs: 1024}
			for _, tile := range []GEMMTile{gemmTileCPU, gemmTileGPU} {
				for _, s := range shapes {
					cfg, err := gemmFit(info, tile, s)
					if err != nil {
						t.Errorf("subgroup %d, %d bytes shared, %+v, %+v: %v", sg, shared, tile, s, err)
						continue
					}
					name, spec := cfg.spec(s, true, true, true)
					if err := checkSpec(name, spec); err != nil {
						t.Errorf("subgroup %d, %d bytes shared, %+v, %+v: %v", sg, shared, tile, s, err)
					}
					if name == "gemm_sg" && shared < 16*gemmSGShared {
						t.Errorf("subgroup %d: gemm_sg chosen with %d bytes of shared memory, it declares %d", sg, shared, 16*gemmSGShared)
					}
				}
			}
		}
	}
}
