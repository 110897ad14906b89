package mpi

import (
	"os"
	"strconv"
)

// Launch is what a launcher told this process through its environment.
type Launch struct {
	// Launcher names the variables found: "open-mpi", "slurm", "pmix" or
	// "pmi" (MPICH, Intel MPI); empty when none was.
	Launcher string
	// Rank, Size and LocalRank (the rank among those on this machine) are
	// the launcher's; Size is 0 when unknown.
	Rank, Size, LocalRank int
}

// Launched reads the environment an MPI launcher sets: Open MPI's mpirun
// (OMPI_COMM_WORLD_*), Slurm's srun (SLURM_PROCID, SLURM_LOCALID,
// SLURM_STEP_NUM_TASKS), PMIx or PMI. NFVK_MPI=off makes it report no
// launcher, so a process started by one trains alone.
func Launched() Launch {
	return launched(os.Getenv)
}

// Distributed reports whether the launch asks for more than one rank.
func (l Launch) Distributed() bool { return l.Size > 1 }

func launched(env func(string) string) Launch {
	if env("NFVK_MPI") == "off" {
		return Launch{}
	}
	num := func(name string) (int, bool) {
		v, err := strconv.Atoi(env(name))
		return v, err == nil && v >= 0
	}
	try := []struct{ launcher, rank, size, local string }{
		{"open-mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
		{"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"},
		{"pmix", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK"},
		{"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
	}
	for _, t := range try {
		rank, ok := num(t.rank)
		if !ok {
			continue
		}
		l := Launch{Launcher: t.launcher, Rank: rank}
		l.Size, _ = num(t.size)
		l.LocalRank, _ = num(t.local)
		return l
	}
	return Launch{}
}
