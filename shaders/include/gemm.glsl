// Shared by the GEMM shaders: C = alpha*op(A)*op(B) + beta*C, row-major.
// op(A) is M x K (A stored M x K, or K x M when TA), op(B) is K x N (B
// stored K x N, or N x K when TB), C is M x N. Leading dimensions are in
// elements; aoff, boff and coff are element offsets of the matrices from
// the start of their bindings (bindings start at aligned byte offsets, the
// matrices need not). beta == 0 never reads C.
layout(set = 0, binding = 0) readonly buffer GemmA1 { float a1[]; };
layout(set = 0, binding = 0) readonly buffer GemmA4 { vec4 a4[]; };
layout(set = 0, binding = 1) readonly buffer GemmB1 { float b1[]; };
layout(set = 0, binding = 1) readonly buffer GemmB4 { vec4 b4[]; };
layout(set = 0, binding = 2) buffer GemmC1 { float c1[]; };
layout(set = 0, binding = 2) buffer GemmC4 { vec4 c4[]; };

layout(push_constant) uniform GemmParams {
	uint M, N, K;
	uint lda, ldb, ldc;
	uint aoff, boff, coff;
	float alpha, beta;
} p;

// opA returns op(A)[i][k] with i < M, k < K.
float opA(bool ta, uint i, uint k) {
	return a1[p.aoff + (ta ? k * p.lda + i : i * p.lda + k)];
}

// opB returns op(B)[k][j] with k < K, j < N.
float opB(bool tb, uint k, uint j) {
	return b1[p.boff + (tb ? j * p.ldb + k : k * p.ldb + j)];
}
