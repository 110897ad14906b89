package mpi

import (
	"os"
	"testing"
)

func TestLaunched(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want Launch
	}{
		{"alone", nil, Launch{}},
		{"mpirun", map[string]string{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1"},
			Launch{Launcher: "open-mpi", Rank: 1, Size: 4, LocalRank: 1}},
		{"srun", map[string]string{"SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "8", "SLURM_LOCALID": "1"},
			Launch{Launcher: "slurm", Rank: 5, Size: 8, LocalRank: 1}},
		{"mpirun wins over slurm", map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2", "SLURM_PROCID": "3"},
			Launch{Launcher: "open-mpi", Rank: 0, Size: 2}},
		{"off", map[string]string{"NFVK_MPI": "off", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"}, Launch{}},
		{"bad number", map[string]string{"PMI_RANK": "x"}, Launch{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := launched(func(k string) string { return c.env[k] })
			if got != c.want {
				t.Errorf("launched = %+v, want %+v", got, c.want)
			}
			if got.Distributed() != (c.want.Size > 1) {
				t.Errorf("Distributed = %v", got.Distributed())
			}
		})
	}
}

func TestInitBadLibrary(t *testing.T) {
	_, err := Init("/nonexistent/libmpi.so.40")
	if err == nil {
		t.Fatal("Init of a missing library succeeded")
	}
	t.Log(err)
	if os.Getenv("NFVK_MPI_HELPER") != "" {
		t.Skip("under mpirun")
	}
}
