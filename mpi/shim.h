// The C side of package mpi: Open MPI's functions and predefined handles
// looked up with dlopen/dlsym at run time, so a binary built here needs no
// MPI to run, and only a launched (mpirun, srun) process loads it.
#ifndef NFVK_MPI_SHIM_H
#define NFVK_MPI_SHIM_H

#include <stddef.h>

// nfmpi_open loads the library at path (RTLD_GLOBAL: Open MPI's plugins
// resolve its symbols) and every symbol the shim uses. On failure it
// writes why to err and returns nonzero.
int nfmpi_open(const char *path, char *err, size_t errlen);

// The calls return MPI's error code (0 is MPI_SUCCESS).
int nfmpi_init_thread(int required, int *provided);
int nfmpi_finalize(void);
int nfmpi_comm_rank(int *rank);
int nfmpi_comm_size(int *size);
int nfmpi_allreduce_f32(float *buf, int count);
int nfmpi_allreduce_f64(double *buf, int count);
int nfmpi_iallreduce_f32(float *buf, int count, void **req);
int nfmpi_wait(void **req);
int nfmpi_test(void **req, int *done);
int nfmpi_bcast_bytes(void *buf, int count, int root);
int nfmpi_bcast_f32(float *buf, int count, int root);
int nfmpi_ibarrier(void **req);
int nfmpi_abort(int code);
// nfmpi_error_string writes MPI's text for an error code.
void nfmpi_error_string(int code, char *out, size_t outlen);

#endif
