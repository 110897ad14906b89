package bench

import "testing"

// BenchmarkTrainStep: the training loop's compiled step of the named
// models; the log breaks its GPU time down by dispatch kind.
func BenchmarkTrainStep(b *testing.B) { runFamily(b, "TrainStep") }
