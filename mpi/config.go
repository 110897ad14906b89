package mpi

import "os"

// libraryFromEnv is $NFVK_MPI_LIB, else DefaultLibrary.
func libraryFromEnv() string {
	if lib := os.Getenv("NFVK_MPI_LIB"); lib != "" {
		return lib
	}
	return DefaultLibrary
}

// deterministicMCA fixes Open MPI's allreduce algorithm to the ring (for
// MPI_Allreduce, coll_tuned; for MPI_Iallreduce, libnbc): its order of
// additions depends only on the rank count and the message length, never
// on timings or on a size threshold tuned per machine, so runs with the
// same rank count give bit-identical sums, and every rank gets the same
// bits (each chunk is summed by one rank and then copied).
var deterministicMCA = map[string]string{
	"OMPI_MCA_coll_tuned_use_dynamic_rules":     "1",
	"OMPI_MCA_coll_tuned_allreduce_algorithm":   "4",
	"OMPI_MCA_coll_libnbc_iallreduce_algorithm": "1",
}

// yieldMCA makes a rank waiting in MPI yield its core instead of
// spinning: a rank that finishes its share first must not slow the
// others, which matters where ranks share cores (a CPU Vulkan device,
// more ranks than cores); a bucket of megabytes hardly notices the
// latency.
var yieldMCA = map[string]string{"OMPI_MCA_mpi_yield_when_idle": "1"}

// setDefaults sets the MCA parameters of deterministicMCA and yieldMCA
// that the user has not set (mpirun --mca exports them as the same
// variables) before MPI_Init reads them.
func setDefaults() {
	for k, v := range deterministicMCA {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
	for k, v := range yieldMCA {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
}
