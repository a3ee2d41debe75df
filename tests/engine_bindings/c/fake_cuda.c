/*
 * A test double of the CUDA driver library (libcuda.so.1) for machines without a GPU:
 * "device memory" is host memory, an IPC memory handle carries the allocation's address,
 * an event records the stream it was last recorded on. It lets the tests check what
 * lf_publish_frame_cuda does with the driver (allocate and export each slot once, copy on
 * the caller's stream, record the slot's event, publish a GPU descriptor) beside the real
 * GPU test, which needs a CUDA device. Only the symbols liblivefoley loads exist here.
 * FAKE_CUDA_NO_CONTEXT=1 makes cuCtxGetCurrent report no current context.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long CUdeviceptr;
typedef struct { size_t srcX, srcY; int srcType; const void *srcHost; CUdeviceptr srcDev;
                 void *srcArr; size_t srcPitch; size_t dstX, dstY; int dstType; void *dstHost;
                 CUdeviceptr dstDev; void *dstArr; size_t dstPitch; size_t width, height; } M2D;
typedef struct { void *last_stream; int interprocess; int records; } FakeEvent;

static int ctx_token;
int fake_cuda_allocs, fake_cuda_copies, fake_cuda_frees;
void *fake_cuda_last_stream;

int cuInit(unsigned int flags) { (void)flags; return 0; }
int cuGetErrorString(int r, const char **s)
{
    *s = r == 201 ? "CUDA_ERROR_INVALID_CONTEXT" : "fake error";
    return 0;
}
int cuCtxGetCurrent(void **ctx)
{
    const char *e = getenv("FAKE_CUDA_NO_CONTEXT");
    *ctx = (e && *e == '1') ? NULL : &ctx_token;
    return 0;
}
int cuCtxGetDevice(int *dev) { *dev = 0; return 0; }
int cuCtxPushCurrent_v2(void *ctx) { (void)ctx; return 0; }
int cuCtxPopCurrent_v2(void **ctx) { *ctx = &ctx_token; return 0; }
int cuDeviceGetUuid(char uuid[16], int dev)
{
    int i;
    for (i = 0; i < 16; ++i) uuid[i] = (char)(0xA0 + i + dev);
    return 0;
}
int cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
    void *m = calloc(1, n);
    if (!m) return 2;
    *p = (CUdeviceptr)(uintptr_t)m;
    ++fake_cuda_allocs;
    return 0;
}
int cuMemFree_v2(CUdeviceptr p) { free((void *)(uintptr_t)p); ++fake_cuda_frees; return 0; }
int cuIpcGetMemHandle(char h[64], CUdeviceptr p)
{
    memset(h, 0, 64);
    memcpy(h, "FAKEIPC", 7);
    memcpy(h + 8, &p, sizeof p);
    return 0;
}
int cuEventCreate(FakeEvent **e, unsigned int flags)
{
    *e = calloc(1, sizeof **e);
    if (!*e) return 2;
    (*e)->interprocess = (flags & 0x4u) && (flags & 0x2u);
    return 0;
}
int cuEventDestroy_v2(FakeEvent *e) { free(e); return 0; }
int cuEventRecord(FakeEvent *e, void *stream)
{
    e->last_stream = stream;
    e->records++;
    fake_cuda_last_stream = stream;
    return 0;
}
int cuEventSynchronize(FakeEvent *e) { (void)e; return 0; }
int cuIpcGetEventHandle(char h[64], FakeEvent *e)
{
    memset(h, 0, 64);
    memcpy(h, e->interprocess ? "FAKEEVT" : "BADEVNT", 7);
    memcpy(h + 8, &e, sizeof e);
    return 0;
}
int cuMemcpy2DAsync_v2(const M2D *c, void *stream)
{
    size_t y;
    (void)stream;
    if (c->srcType != 2 || c->dstType != 2) return 1;
    for (y = 0; y < c->height; ++y)
        memcpy((char *)(uintptr_t)c->dstDev + y * c->dstPitch,
               (const char *)(uintptr_t)c->srcDev + y * c->srcPitch, c->width);
    ++fake_cuda_copies;
    return 0;
}
