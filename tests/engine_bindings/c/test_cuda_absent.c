/* Without a CUDA driver, only the CUDA entry points fail (LF_ERR_NO_CUDA, naming the
 * library they looked for); everything else in the library keeps working. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char name[64];
    lf_session_t *s = NULL;
    uint8_t px[4 * 4 * 4] = {0};
    float out[64];
    snprintf(name, sizeof name, "lf-ctest-nocuda-%ld", (long)getpid());
    setenv("LF_CUDA_DRIVER_LIBRARY", "/nonexistent/libcuda.so.1", 1);
    CHECK_RC(lf_session_create(name, NULL, &s), LF_OK);
    CHECK_RC(lf_cuda_available(), LF_ERR_NO_CUDA);
    CHECK_MSG("/nonexistent/libcuda.so.1");
    CHECK_RC(lf_publish_frame_cuda(s, 0x1000, 4, 4, 0, LF_PIXEL_RGBA8, 1, 0, 0, 0, 0, NULL),
             LF_ERR_NO_CUDA);
    CHECK_MSG("could not load the CUDA driver library");
    /* Asked twice, same answer (the load is attempted once per process). */
    CHECK_RC(lf_cuda_available(), LF_ERR_NO_CUDA);
    CHECK_RC(lf_publish_frame_host(s, px, 4, 4, 0, LF_PIXEL_RGBA8, 1, 0, 0, 0, 0), LF_OK);
    CHECK(lf_read_audio(s, out, 32) == 0, "audio still reads (silence)");
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
    TP_DONE();
}
