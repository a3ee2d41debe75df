/* lf_publish_frame_cuda on a real GPU: a device buffer with a pitch larger than the row,
 * published on a non-default stream; a second process (gpu_consumer) opens the IPC
 * handles, waits on the IPC event and checks every byte. Needs a CUDA device. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "cuda_min.h"
#include "peer.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LF_GPU_CONSUMER
#error "build with -DLF_GPU_CONSUMER=\"/path/to/gpu_consumer\""
#endif

enum { W = 320, H = 240, PITCH = W * 4 + 256 };

int main(void)
{
    char name[64], cmd[512];
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    unsigned char *host = malloc((size_t)PITCH * H);
    cu_ptr src = 0;
    void *stream = NULL;
    unsigned x, y, i;
    int status;
    snprintf(name, sizeof name, "lf-ctest-gpu-%ld", (long)getpid());
    if (cu_setup() != 0) {
        CHECK(0, "CUDA setup: expected a CUDA device and driver, found none");
        free(host);
        TP_DONE();
    }
    CHECK_RC(lf_cuda_available(), LF_OK);
    lf_session_config_init(&cfg);
    cfg.max_frame_width = 640;
    cfg.max_frame_height = 480;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(cu.cuMemAlloc_v2(&src, (size_t)PITCH * H) == 0, "cuMemAlloc");
    CHECK(cu.cuStreamCreate(&stream, 0) == 0, "cuStreamCreate");
    for (i = 1; i <= 3; ++i) {
        for (y = 0; y < H; ++y)
            for (x = 0; x < PITCH; ++x) host[y * PITCH + x] = (unsigned char)(i + 3 * y + x);
        cu.cuMemcpyHtoD_v2(src, host, (size_t)PITCH * H);
        CHECK_RC(lf_publish_frame_cuda(s, src, W, H, PITCH, LF_PIXEL_RGBA8, i, 0, 0, 0, 0, stream),
                 LF_OK);
    }
    /* The consumer waits on the IPC event, not on us: do not synchronise the stream here. */
    snprintf(cmd, sizeof cmd, "%s %s %d %d 3", LF_GPU_CONSUMER, name, W, H);
    status = system(cmd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "consumer process: expected exit 0, "
          "found status %d", status);
    cu.cuStreamSynchronize(stream);
    cu.cuStreamDestroy_v2(stream);
    cu.cuMemFree_v2(src);
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
    free(host);
    TP_DONE();
}
