/* The CUDA driver calls the GPU tests need, loaded with dlopen (no toolkit needed to
 * build). Test-only; liblivefoley has its own loader (engine_bindings/c/src). */
#ifndef LF_TEST_CUDA_MIN_H
#define LF_TEST_CUDA_MIN_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

typedef unsigned long long cu_ptr;
typedef struct { char r[64]; } cu_ipc64;

static struct {
    int (*cuInit)(unsigned);
    int (*cuDeviceGet)(int *, int);
    int (*cuDevicePrimaryCtxRetain)(void **, int);
    int (*cuCtxSetCurrent)(void *);
    int (*cuMemAlloc_v2)(cu_ptr *, size_t);
    int (*cuMemFree_v2)(cu_ptr);
    int (*cuMemcpyHtoD_v2)(cu_ptr, const void *, size_t);
    int (*cuMemcpyDtoH_v2)(void *, cu_ptr, size_t);
    int (*cuStreamCreate)(void **, unsigned);
    int (*cuStreamSynchronize)(void *);
    int (*cuStreamDestroy_v2)(void *);
    int (*cuIpcOpenMemHandle_v2)(cu_ptr *, cu_ipc64, unsigned);
    int (*cuIpcCloseMemHandle)(cu_ptr);
    int (*cuIpcOpenEventHandle)(void **, cu_ipc64);
    int (*cuEventSynchronize)(void *);
    int (*cuDeviceGetUuid)(char *, int);
} cu;

/* Load the driver and make device 0's primary context current. 0 on success. */
static int cu_setup(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    void *ctx = NULL;
    int dev = 0;
    if (!lib) return fprintf(stderr, "no libcuda.so.1: %s\n", dlerror()), -1;
#define L(n) if (!(*(void **)&cu.n = dlsym(lib, #n))) return fprintf(stderr, "no %s\n", #n), -1
    L(cuInit); L(cuDeviceGet); L(cuDevicePrimaryCtxRetain); L(cuCtxSetCurrent);
    L(cuMemAlloc_v2); L(cuMemFree_v2); L(cuMemcpyHtoD_v2); L(cuMemcpyDtoH_v2);
    L(cuStreamCreate); L(cuStreamSynchronize); L(cuStreamDestroy_v2);
    L(cuIpcOpenMemHandle_v2); L(cuIpcCloseMemHandle); L(cuIpcOpenEventHandle);
    L(cuEventSynchronize); L(cuDeviceGetUuid);
#undef L
    if (cu.cuInit(0) || cu.cuDeviceGet(&dev, 0) || cu.cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cu.cuCtxSetCurrent(ctx))
        return fprintf(stderr, "CUDA context setup failed\n"), -1;
    return 0;
}

#endif
