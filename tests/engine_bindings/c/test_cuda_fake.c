/* lf_publish_frame_cuda against the driver test double (fake_cuda.c, host memory standing
 * in for device memory): slots allocated and IPC-exported once, copy and event record on
 * the caller's stream, GPU descriptor published, refusals by name. The same path on a real
 * GPU is tests/engine_bindings/test_cuda_gpu.py (marked gpu). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef LF_FAKE_CUDA
#error "build with -DLF_FAKE_CUDA=\"/path/to/libfakecuda.so\""
#endif

enum { W = 16, H = 8, PITCH = W * 4 + 64 };

int main(void)
{
    char name[64];
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    tp_peer_t *p = NULL;
    tp_frame_t f;
    tp_gpu_slot_t g;
    uint8_t *src = calloc(H * PITCH, 1);
    void *lib;
    int *allocs, *copies, *frees;
    void **last_stream;
    uint32_t i, y, x, bad = 0;
    snprintf(name, sizeof name, "lf-ctest-cuda-%ld", (long)getpid());
    setenv("LF_CUDA_DRIVER_LIBRARY", LF_FAKE_CUDA, 1);
    lib = dlopen(LF_FAKE_CUDA, RTLD_NOW);
    CHECK(lib != NULL, "cannot load the driver double %s", LF_FAKE_CUDA);
    if (!lib) TP_DONE();
    allocs = (int *)dlsym(lib, "fake_cuda_allocs");
    copies = (int *)dlsym(lib, "fake_cuda_copies");
    frees = (int *)dlsym(lib, "fake_cuda_frees");
    last_stream = (void **)dlsym(lib, "fake_cuda_last_stream");
    lf_session_config_init(&cfg);
    cfg.max_frame_width = 32;
    cfg.max_frame_height = 32;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(tp_open(name, &p) == 0, "peer open");
    CHECK_RC(lf_cuda_available(), LF_OK);

    /* No current context: a clear CUDA error, nothing exported. */
    setenv("FAKE_CUDA_NO_CONTEXT", "1", 1);
    CHECK_RC(lf_publish_frame_cuda(s, (uint64_t)(uintptr_t)src, W, H, PITCH, LF_PIXEL_RGBA8,
                                   1, 0, 0, 0, 0, NULL), LF_ERR_CUDA);
    CHECK_MSG("current CUDA context");
    unsetenv("FAKE_CUDA_NO_CONTEXT");

    for (i = 1; i <= 5; ++i) {
        for (y = 0; y < H; ++y)
            for (x = 0; x < W * 4; ++x) src[y * PITCH + x] = (uint8_t)(i + y * 5 + x);
        CHECK_RC(lf_publish_frame_cuda(s, (uint64_t)(uintptr_t)src, W, H, PITCH,
                                       LF_PIXEL_BGRA8, i, 100 * i, 0.1f, 0.2f, 0.3f,
                                       (void *)(uintptr_t)0xBEEF),
                 LF_OK);
    }
    CHECK(*allocs == 3, "slots allocated once: expected 3 allocations, found %d", *allocs);
    CHECK(*copies == 5, "one copy per frame: expected 5, found %d", *copies);
    CHECK(*last_stream == (void *)(uintptr_t)0xBEEF, "event must be recorded on the caller's "
          "stream 0xBEEF, found %p", *last_stream);
    CHECK(tp_acquire_frame(p, &f) == 0, "consumer acquires the GPU frame");
    CHECK(f.frame_index == 5 && f.location == tp_location_gpu(),
          "expected frame 5 in a GPU slot, found frame %llu location %u",
          (unsigned long long)f.frame_index, f.location);
    CHECK(f.row_pitch_bytes == W * 4 && f.pixel_format == LF_PIXEL_BGRA8,
          "descriptor pitch %u format %u", f.row_pitch_bytes, f.pixel_format);
    CHECK(tp_gpu_slot(p, f.slot_index, &g) == 0, "gpu slot readable");
    CHECK(g.kind == 1, "slot kind expected 1 (CUDA IPC), found %u", g.kind);
    CHECK(g.byte_size == 32 * 32 * 4, "slot size expected 4096, found %llu",
          (unsigned long long)g.byte_size);
    CHECK(memcmp(g.mem_handle, "FAKEIPC", 7) == 0, "mem handle not the driver's");
    CHECK(memcmp(g.event_handle, "FAKEEVT", 7) == 0,
          "event must be created interprocess + disable-timing");
    CHECK((uint8_t)g.device_uuid[0] == 0xA0 && (uint8_t)g.device_uuid[15] == 0xAF,
          "device uuid not copied");
    {
        unsigned long long dev = 0;
        const uint8_t *slot;
        memcpy(&dev, g.mem_handle + 8, sizeof dev);
        slot = (const uint8_t *)(uintptr_t)dev;
        for (y = 0; y < H; ++y)
            for (x = 0; x < W * 4; ++x) bad += slot[y * W * 4 + x] != (uint8_t)(5 + y * 5 + x);
        CHECK(bad == 0, "%u bytes of the GPU slot differ from the source frame", bad);
    }
    tp_release_frame(p, f.slot_index);

    CHECK_RC(lf_publish_frame_cuda(s, (uint64_t)(uintptr_t)src, 33, 32, 0, LF_PIXEL_RGBA8, 9,
                                   0, 0, 0, 0, NULL), LF_ERR_FRAME_TOO_LARGE);
    CHECK_MSG("expected at most 4096");
    CHECK_RC(lf_publish_frame_cuda(s, 0, W, H, 0, LF_PIXEL_RGBA8, 9, 0, 0, 0, 0, NULL),
             LF_ERR_INVALID_ARG);
    tp_close(p);
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
    CHECK(*frees == 3, "destroy frees every slot: expected 3, found %d", *frees);
    free(src);
    TP_DONE();
}
