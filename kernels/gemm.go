package kernels

// GEMMTile is a GEMM tile configuration (specialization constants of the
// gemm shader). Owned by the SGEMM work in progress.
type GEMMTile struct {
	WG, TM, TN uint32
}

var (
	gemmTileCPU = GEMMTile{WG: 64, TM: 8, TN: 4}
	gemmTileGPU = GEMMTile{WG: 256, TM: 8, TN: 8}
)
