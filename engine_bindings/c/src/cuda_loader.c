/*
 * Run-time loading of the CUDA driver library, so liblivefoley links and runs on machines
 * without CUDA: only lf_publish_frame_cuda() and lf_cuda_available() ever report
 * LF_ERR_NO_CUDA. The library name can be overridden with the environment variable
 * LF_CUDA_DRIVER_LIBRARY (used by the tests to load a test double or a missing path).
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#include "cuda_driver.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#  define LF_CUDA_DEFAULT_LIBRARY "nvcuda.dll"
static void *lib_open(const char *name) { return (void *)LoadLibraryA(name); }
static void *lib_sym(void *lib, const char *name)
{
    return (void *)GetProcAddress((HMODULE)lib, name);
}
static const char *lib_error(void) { return "LoadLibraryA failed"; }
#else
#  include <dlfcn.h>
#  if defined(__APPLE__)
#    define LF_CUDA_DEFAULT_LIBRARY "libcuda.dylib"
#  else
#    define LF_CUDA_DEFAULT_LIBRARY "libcuda.so.1"
#  endif
static void *lib_open(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }
static void *lib_sym(void *lib, const char *name) { return dlsym(lib, name); }
static const char *lib_error(void)
{
    const char *e = dlerror();
    return e ? e : "dlopen failed";
}
#endif

#if defined(_MSC_VER)
#  include <intrin.h>
#else
#  include <stdatomic.h>
#endif

static lfi_cuda_t table;
static int load_result = 1; /* 1 = not tried yet */
static char load_detail[400];

#if defined(_MSC_VER)
static volatile long once_state; /* 0 idle, 1 running, 2 done */
static int once_begin(void)
{
    for (;;) {
        long s = _InterlockedCompareExchange(&once_state, 1, 0);
        if (s == 0) return 1;
        if (s == 2) return 0;
        Sleep(0);
    }
}
static void once_end(void) { _InterlockedExchange(&once_state, 2); }
#else
static atomic_int once_state;
static int once_begin(void)
{
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&once_state, &expected, 1)) return 1;
        if (expected == 2) return 0;
        lfi_sleep_ms(0);
    }
}
static void once_end(void) { atomic_store(&once_state, 2); }
#endif

#define LF_LOAD(field, symbol)                                                              \
    do {                                                                                    \
        *(void **)(&table.field) = lib_sym(lib, symbol);                                    \
        if (!table.field) {                                                                 \
            snprintf(load_detail, sizeof load_detail,                                       \
                     "%s has no symbol %s (expected a CUDA driver >= 11.0)", name, symbol); \
            return LF_ERR_CUDA;                                                             \
        }                                                                                   \
    } while (0)

static int load_once(void)
{
    const char *name = getenv("LF_CUDA_DRIVER_LIBRARY");
    void *lib;
    lf_CUresult r;
    if (!name || !*name) name = LF_CUDA_DEFAULT_LIBRARY;
    lib = lib_open(name);
    if (!lib) {
        snprintf(load_detail, sizeof load_detail,
                 "could not load the CUDA driver library %s: %s", name, lib_error());
        return LF_ERR_NO_CUDA;
    }
    LF_LOAD(cuInit, "cuInit");
    LF_LOAD(cuGetErrorString, "cuGetErrorString");
    LF_LOAD(cuCtxGetCurrent, "cuCtxGetCurrent");
    LF_LOAD(cuCtxGetDevice, "cuCtxGetDevice");
    LF_LOAD(cuCtxPushCurrent, "cuCtxPushCurrent_v2");
    LF_LOAD(cuCtxPopCurrent, "cuCtxPopCurrent_v2");
    LF_LOAD(cuDeviceGetUuid, "cuDeviceGetUuid");
    LF_LOAD(cuMemAlloc, "cuMemAlloc_v2");
    LF_LOAD(cuMemFree, "cuMemFree_v2");
    LF_LOAD(cuIpcGetMemHandle, "cuIpcGetMemHandle");
    LF_LOAD(cuEventCreate, "cuEventCreate");
    LF_LOAD(cuEventDestroy, "cuEventDestroy_v2");
    LF_LOAD(cuEventRecord, "cuEventRecord");
    LF_LOAD(cuEventSynchronize, "cuEventSynchronize");
    LF_LOAD(cuIpcGetEventHandle, "cuIpcGetEventHandle");
    LF_LOAD(cuMemcpy2DAsync, "cuMemcpy2DAsync_v2");
    r = table.cuInit(0);
    if (r != LF_CUDA_SUCCESS) {
        const char *msg = NULL;
        table.cuGetErrorString(r, &msg);
        snprintf(load_detail, sizeof load_detail, "cuInit(0) failed in %s: error %d (%s)",
                 name, r, msg ? msg : "no message");
        return LF_ERR_CUDA;
    }
    /* The library stays loaded for the life of the process, like the driver's own state. */
    return LF_OK;
}

int lfi_cuda_load(const lfi_cuda_t **out)
{
    if (once_begin()) {
        load_result = load_once();
        once_end();
    }
    if (load_result != LF_OK)
        return lfi_fail(load_result, "%s", load_detail);
    *out = &table;
    return LF_OK;
}

int lfi_cuda_fail(const lfi_cuda_t *cu, lf_CUresult r, const char *what)
{
    const char *msg = NULL;
    if (cu && cu->cuGetErrorString) cu->cuGetErrorString(r, &msg);
    return lfi_fail(LF_ERR_CUDA, "%s failed: expected CUDA_SUCCESS, found error %d (%s)",
                    what, r, msg ? msg : "no message");
}

LF_API int lf_cuda_available(void)
{
    const lfi_cuda_t *cu = NULL;
    return lfi_cuda_load(&cu);
}
