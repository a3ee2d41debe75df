/* Cross-process audio ring stress, one side of it.
 *   stress_audio produce NAME BLOCKS SEED   write BLOCKS blocks of the stream (stream.h)
 *   stress_audio consume NAME BLOCKS SEED   read them back in random sizes and verify
 *   stress_audio paced NAME                 write frame k = (k mod 2^20, -(k mod 2^20))
 *                                           from the ring's write count on, keeping about
 *                                           2048 frames buffered, until killed
 * The consumer prints "frames=N blocks=B torn=T lost=L dup=D silence_bad=S" and exits 0
 * only when everything matched. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "livefoley/protocol.h"
#include "stream.h"

static void *attach(const char *name, lf_shm_t *shm)
{
    char err[256];
    int rc = lf_session_open(shm, name, err, sizeof err);
    if (rc != LF_OK) {
        fprintf(stderr, "attach %s: %s\n", name, err);
        exit(2);
    }
    return shm->base;
}

static int produce(void *base, uint64_t blocks, uint64_t seed)
{
    float buf[2 * MAX_BLOCK_FRAMES];
    for (uint64_t seq = 0; seq < blocks; seq++) {
        uint32_t n = block_len(seed, seq);
        make_block(buf, seq, n);
        uint32_t done = 0;
        while (done < n) {
            uint32_t got = lf_audio_write(base, buf + 2 * done, n - done);
            done += got;
            if (got == 0) {
                nap_us(20);
            }
        }
    }
    return 0;
}

static int consume(void *base, uint64_t blocks, uint64_t seed)
{
    static float buf[2 * 512];
    uint64_t seq = 0, frames = 0, torn = 0, lost = 0, dup = 0, silence_bad = 0;
    uint32_t j = 0, len = block_len(seed, 0);
    uint64_t rng = seed * 31u + 7u;
    int64_t idle_since = lf_now_ns();
    while (seq < blocks) {
        rng = splitmix64(rng);
        uint32_t want = 1u + (uint32_t)(rng % 512u);
        uint32_t n = lf_audio_read(base, buf, want);
        for (uint32_t i = n; i < want; i++) {
            uint32_t a, b;
            memcpy(&a, &buf[2 * i], 4);
            memcpy(&b, &buf[2 * i + 1], 4);
            silence_bad += (a | b) != 0;
        }
        if (n == 0) {
            if (lf_now_ns() - idle_since > 20000000000LL) {
                fprintf(stderr, "consumer: no data for 20 s at block %" PRIu64 "\n", seq);
                break;
            }
            nap_us(20);
            continue;
        }
        idle_since = lf_now_ns();
        for (uint32_t i = 0; i < n; i++) {
            uint32_t w0, w1;
            memcpy(&w0, &buf[2 * i], 4);
            memcpy(&w1, &buf[2 * i + 1], 4);
            frames++;
            if (w0 != (uint32_t)seq) {
                if (w0 < (uint32_t)seq) dup++; else lost++;
            } else if (w1 != frame_check(seq, j)) {
                torn++;
            }
            if (++j == len) {
                j = 0;
                seq++;
                len = block_len(seed, seq);
            }
        }
    }
    printf("frames=%" PRIu64 " blocks=%" PRIu64 " torn=%" PRIu64 " lost=%" PRIu64
           " dup=%" PRIu64 " silence_bad=%" PRIu64 "\n",
           frames, seq, torn, lost, dup, silence_bad);
    return (seq == blocks && torn == 0 && lost == 0 && dup == 0 && silence_bad == 0) ? 0 : 1;
}

static int paced(void *base)
{
    float buf[2 * 256];
    for (;;) {
        if (lf_audio_fill_frames(base) < 2048) {
            /* Continue the stream where the ring stands, so a successor producer picks up
             * exactly where a killed one stopped. */
            lf_counters_t c;
            lf_counters_read(base, &c);
            const uint64_t k = c.audio_write_count;
            for (uint32_t i = 0; i < 256; i++) {
                float v = (float)((k + i) & 0xFFFFFu);
                buf[2 * i] = v;
                buf[2 * i + 1] = -v;
            }
            lf_audio_write(base, buf, 256);
        } else {
            nap_us(1000);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s produce|consume|paced NAME [BLOCKS SEED]\n", argv[0]);
        return 2;
    }
    lf_shm_t shm;
    void *base = attach(argv[2], &shm);
    int rc;
    if (strcmp(argv[1], "paced") == 0) {
        rc = paced(base);
    } else if (argc == 5 && strcmp(argv[1], "produce") == 0) {
        rc = produce(base, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    } else if (argc == 5 && strcmp(argv[1], "consume") == 0) {
        rc = consume(base, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    } else {
        fprintf(stderr, "bad arguments\n");
        rc = 2;
    }
    lf_shm_close(&shm);
    return rc;
}
