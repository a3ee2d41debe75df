/*
 * The few CUDA driver API declarations liblivefoley uses, declared here so the library
 * builds without the CUDA toolkit and loads the driver at run time (dlopen("libcuda.so.1")
 * / LoadLibraryA("nvcuda.dll")). Layouts follow cuda.h (CUDA 11/12; stable since 4.0 for
 * these types). Symbol names are the versioned ones cuda.h maps to (cuMemAlloc_v2, ...).
 */
#ifndef LF_CUDA_DRIVER_H
#define LF_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define LF_CUDAAPI __stdcall
#else
#  define LF_CUDAAPI
#endif

typedef int lf_CUresult;
typedef int lf_CUdevice;
typedef unsigned long long lf_CUdeviceptr;
typedef struct lf_CUctx_st *lf_CUcontext;
typedef struct lf_CUstream_st *lf_CUstream;
typedef struct lf_CUevent_st *lf_CUevent;
typedef struct lf_CUarray_st *lf_CUarray;

typedef struct { char reserved[64]; } lf_CUipcMemHandle;
typedef struct { char reserved[64]; } lf_CUipcEventHandle;
typedef struct { char bytes[16]; } lf_CUuuid;

#define LF_CUDA_SUCCESS 0
#define LF_CU_EVENT_DISABLE_TIMING 0x2u
#define LF_CU_EVENT_INTERPROCESS 0x4u
#define LF_CU_MEMORYTYPE_DEVICE 0x2

typedef struct {
    size_t srcXInBytes;
    size_t srcY;
    int srcMemoryType;
    const void *srcHost;
    lf_CUdeviceptr srcDevice;
    lf_CUarray srcArray;
    size_t srcPitch;
    size_t dstXInBytes;
    size_t dstY;
    int dstMemoryType;
    void *dstHost;
    lf_CUdeviceptr dstDevice;
    lf_CUarray dstArray;
    size_t dstPitch;
    size_t WidthInBytes;
    size_t Height;
} lf_CUDA_MEMCPY2D;

/* The loaded function table; all members non-NULL once lfi_cuda_load() returns LF_OK. */
typedef struct lfi_cuda {
    lf_CUresult (LF_CUDAAPI *cuInit)(unsigned int);
    lf_CUresult (LF_CUDAAPI *cuGetErrorString)(lf_CUresult, const char **);
    lf_CUresult (LF_CUDAAPI *cuCtxGetCurrent)(lf_CUcontext *);
    lf_CUresult (LF_CUDAAPI *cuCtxGetDevice)(lf_CUdevice *);
    lf_CUresult (LF_CUDAAPI *cuCtxPushCurrent)(lf_CUcontext);
    lf_CUresult (LF_CUDAAPI *cuCtxPopCurrent)(lf_CUcontext *);
    lf_CUresult (LF_CUDAAPI *cuDeviceGetUuid)(lf_CUuuid *, lf_CUdevice);
    lf_CUresult (LF_CUDAAPI *cuMemAlloc)(lf_CUdeviceptr *, size_t);
    lf_CUresult (LF_CUDAAPI *cuMemFree)(lf_CUdeviceptr);
    lf_CUresult (LF_CUDAAPI *cuIpcGetMemHandle)(lf_CUipcMemHandle *, lf_CUdeviceptr);
    lf_CUresult (LF_CUDAAPI *cuEventCreate)(lf_CUevent *, unsigned int);
    lf_CUresult (LF_CUDAAPI *cuEventDestroy)(lf_CUevent);
    lf_CUresult (LF_CUDAAPI *cuEventRecord)(lf_CUevent, lf_CUstream);
    lf_CUresult (LF_CUDAAPI *cuEventSynchronize)(lf_CUevent);
    lf_CUresult (LF_CUDAAPI *cuIpcGetEventHandle)(lf_CUipcEventHandle *, lf_CUevent);
    lf_CUresult (LF_CUDAAPI *cuMemcpy2DAsync)(const lf_CUDA_MEMCPY2D *, lf_CUstream);
} lfi_cuda_t;

/* Load and cuInit the driver once per process (thread-safe). Returns LF_OK, LF_ERR_NO_CUDA
 * (library absent) or LF_ERR_CUDA (a symbol is missing or cuInit failed); on success
 * *out points at the process-wide table. */
int lfi_cuda_load(const lfi_cuda_t **out);

/* Format a failed driver call into lf_last_error() and return LF_ERR_CUDA. */
int lfi_cuda_fail(const lfi_cuda_t *cu, lf_CUresult r, const char *what);

#endif
