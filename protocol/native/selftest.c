/*
 * Measurement helper: times the ring's write and read paths per call, in C, so benchmarks
 * see the cost an engine's audio thread pays rather than Python's call overhead.
 */
#include <stdlib.h>

#include "internal.h"

int lf_bench_audio(void *base, uint32_t block_frames, uint32_t iterations, uint64_t *write_ns,
                   uint64_t *read_ns)
{
    if (base == NULL || write_ns == NULL || read_ns == NULL || block_frames == 0 ||
        block_frames > LF_CHDR(base)->ring_capacity_frames) {
        return LF_E_INVALID_ARG;
    }
    const size_t samples = (size_t)block_frames * LF_CHDR(base)->channels;
    float *in = (float *)malloc(samples * sizeof(float));
    float *out = (float *)malloc(samples * sizeof(float));
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return LF_E_OS;
    }
    for (size_t i = 0; i < samples; i++) {
        in[i] = (float)i * 1e-3f;
    }
    int rc = LF_OK;
    for (uint32_t i = 0; i < iterations; i++) {
        const int64_t t0 = lf_now_ns();
        const uint32_t wrote = lf_audio_write(base, in, block_frames);
        const int64_t t1 = lf_now_ns();
        const uint32_t got = lf_audio_read(base, out, block_frames);
        const int64_t t2 = lf_now_ns();
        write_ns[i] = (uint64_t)(t1 - t0);
        read_ns[i] = (uint64_t)(t2 - t1);
        if (wrote != block_frames || got != block_frames) {
            rc = LF_E_STATE; /* someone else is using the ring */
            break;
        }
    }
    free(in);
    free(out);
    return rc;
}
