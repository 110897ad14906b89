package gpu

import "github.com/nfvk/nfvk/graph"

// Dynamic loss scaling: graph.LossScale's kernels.

func (b *backend) LossScaleCheck(x, counts graph.Mem) error {
	return b.k.LossScaleCheck(b.p, b.span(x), b.span(counts))
}
func (b *backend) LossScaleMul(x, scale, counts graph.Mem, unscale bool) error {
	return b.k.LossScaleMul(b.p, b.span(x), b.span(scale), b.span(counts), unscale)
}
func (b *backend) LossScaleHyper(counts, hyper, out graph.Mem) error {
	return b.k.LossScaleHyper(b.p, b.span(counts), b.span(hyper), b.span(out))
}
func (b *backend) LossScaleUpdate(scale, counts graph.Mem, growth int) error {
	return b.k.LossScaleUpdate(b.p, b.span(scale), b.span(counts), growth)
}
