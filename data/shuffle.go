package data

// Permutation returns the order in which epoch visits n samples: a
// Fisher–Yates shuffle driven by a PCG stream seeded from (seed, epoch)
// alone, so any epoch's order can be recomputed without the ones before.
func Permutation(n int, seed uint64, epoch int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var r rng
	r.seedAt(seed, streamShuffle, uint64(epoch), 0, 0)
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
