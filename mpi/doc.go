// Package mpi is the part of MPI that nfvk's data-parallel training needs:
// init and finalize, rank, size and local rank, float32 sum allreduce
// (blocking and non-blocking, in place), broadcast, barrier and abort, over
// MPI_COMM_WORLD.
//
// The library is Open MPI's libmpi.so.40, opened with dlopen when Init is
// called, never at start-up: one nfvk binary runs alone without MPI
// installed and data-parallel under mpirun or srun. Launched tells the two
// apart from the environment a launcher sets.
//
// A rank that reaches a blocking collective before the others waits
// asleep (a polled MPI_Ibarrier), not spinning: ranks that share cores
// with each other or with a CPU device keep them.
//
// Calls are serialised by the Comm (MPI is initialised with at least
// MPI_THREAD_SERIALIZED), so a Comm may be used from several goroutines;
// the order of collective calls must still be the same on every rank.
// Errors are MPI's default (fatal): an MPI error, or a peer that dies, ends
// the job through the launcher, which names the failed rank.
package mpi
