package train

import (
	"testing"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/kernels"
)

// TestStagedInputsMatchMapped trains on a device treated as discrete
// (inputs uploaded through the step's upload ring), is interrupted,
// resumes, and must give the losses and metrics of an uninterrupted run
// on the same device with mapped memory, to the bit. Other switches
// (NFVK_SHUFFLE_DISPATCH, NFVK_VALIDATE) apply to both devices.
func TestStagedInputsMatchMapped(t *testing.T) {
	t.Setenv("NFVK_FORCE_STAGING", "0") // Options cannot turn it off
	mapped := kernels.New(enginetest.Open(t))
	staged := kernels.New(enginetest.OpenWith(t, engine.Options{DisableUnifiedMemory: true}))
	if !mapped.Device().Unified() || staged.Device().Unified() {
		t.Skipf("this device has no mapped device memory to compare with (unified %v)", mapped.Device().Unified())
	}
	resumeMatches(t, mapped, staged, "", 128, 6, data.Position{Epoch: 1, Step: 2}) // 4 steps per epoch
}
