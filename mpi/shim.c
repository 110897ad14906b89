//go:build cgo && unix

// Open MPI through dlopen: MPI_Comm, MPI_Datatype and MPI_Op are pointers
// to exported objects (ompi_mpi_comm_world, ompi_mpi_float, ...), and
// MPI_IN_PLACE is (void *)1 (Open MPI's mpi.h). MPICH's integer handles
// are another ABI, which this shim refuses at open.
#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *mpi_handle;

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_finalize)(void);
static int (*p_comm_rank)(mpi_handle, int *);
static int (*p_comm_size)(mpi_handle, int *);
static int (*p_allreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle);
static int (*p_iallreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle, void **);
static int (*p_wait)(void **, void *);
static int (*p_test)(void **, int *, void *);
static int (*p_bcast)(void *, int, mpi_handle, int, mpi_handle);
static int (*p_ibarrier)(mpi_handle, void **);
static int (*p_abort)(mpi_handle, int);
static int (*p_error_string)(int, char *, int *);

static mpi_handle comm_world, type_float, type_double, type_byte, op_sum;

#define IN_PLACE ((void *)1)

static int sym(void *lib, const char *name, void **out, char *err, size_t errlen) {
	*out = dlsym(lib, name);
	if (*out == NULL) {
		snprintf(err, errlen, "symbol %s not found (not Open MPI?)", name);
		return 1;
	}
	return 0;
}

int nfmpi_open(const char *path, char *err, size_t errlen) {
	void *lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (lib == NULL) {
		snprintf(err, errlen, "%s", dlerror());
		return 1;
	}
	struct {
		const char *name;
		void **out;
	} syms[] = {
		{"MPI_Init_thread", (void **)&p_init_thread},
		{"MPI_Finalize", (void **)&p_finalize},
		{"MPI_Comm_rank", (void **)&p_comm_rank},
		{"MPI_Comm_size", (void **)&p_comm_size},
		{"MPI_Allreduce", (void **)&p_allreduce},
		{"MPI_Iallreduce", (void **)&p_iallreduce},
		{"MPI_Wait", (void **)&p_wait},
		{"MPI_Test", (void **)&p_test},
		{"MPI_Bcast", (void **)&p_bcast},
		{"MPI_Ibarrier", (void **)&p_ibarrier},
		{"MPI_Abort", (void **)&p_abort},
		{"MPI_Error_string", (void **)&p_error_string},
		{"ompi_mpi_comm_world", &comm_world},
		{"ompi_mpi_float", &type_float},
		{"ompi_mpi_double", &type_double},
		{"ompi_mpi_byte", &type_byte},
		{"ompi_mpi_op_sum", &op_sum},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		if (sym(lib, syms[i].name, syms[i].out, err, errlen)) {
			return 1;
		}
	}
	return 0;
}

int nfmpi_init_thread(int required, int *provided) { return p_init_thread(NULL, NULL, required, provided); }
int nfmpi_finalize(void) { return p_finalize(); }
int nfmpi_comm_rank(int *rank) { return p_comm_rank(comm_world, rank); }
int nfmpi_comm_size(int *size) { return p_comm_size(comm_world, size); }

int nfmpi_allreduce_f32(float *buf, int count) {
	return p_allreduce(IN_PLACE, buf, count, type_float, op_sum, comm_world);
}

int nfmpi_allreduce_f64(double *buf, int count) {
	return p_allreduce(IN_PLACE, buf, count, type_double, op_sum, comm_world);
}

int nfmpi_iallreduce_f32(float *buf, int count, void **req) {
	return p_iallreduce(IN_PLACE, buf, count, type_float, op_sum, comm_world, req);
}

// MPI_STATUS_IGNORE is a null pointer in Open MPI.
int nfmpi_wait(void **req) { return p_wait(req, NULL); }
int nfmpi_test(void **req, int *done) { return p_test(req, done, NULL); }

int nfmpi_bcast_bytes(void *buf, int count, int root) { return p_bcast(buf, count, type_byte, root, comm_world); }
int nfmpi_bcast_f32(float *buf, int count, int root) { return p_bcast(buf, count, type_float, root, comm_world); }
int nfmpi_ibarrier(void **req) { return p_ibarrier(comm_world, req); }
int nfmpi_abort(int code) { return p_abort(comm_world, code); }

void nfmpi_error_string(int code, char *out, size_t outlen) {
	int n = 0;
	out[0] = 0;
	if (p_error_string == NULL || outlen < 256 || p_error_string(code, out, &n) != 0) {
		snprintf(out, outlen, "MPI error %d", code);
	}
}
