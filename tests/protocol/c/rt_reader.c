/* The engine's audio thread, imitated: a thread reads 256 frames every 256/48000 s from
 * the ring (absolute-deadline sleeps), for DURATION seconds, while producers come and go.
 *   rt_reader NAME DURATION_S
 * Every real frame must continue the paced producer's stream (value = position mod 2^20,
 * -value), every missing frame must be silence. Prints
 * "reads=R real=F silence=S bad=B max_read_ns=N late=L" and exits 0 when bad == 0. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "livefoley/protocol.h"

#define BLOCK 256u
#define PERIOD_NS (1000000000LL * BLOCK / 48000)

typedef struct {
    void *base;
    double duration_s;
    uint64_t reads, real, silence, bad, late;
    int64_t max_read_ns;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = (reader_t *)arg;
    static float out[2 * BLOCK];
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    const int64_t end = lf_now_ns() + (int64_t)(r->duration_s * 1e9);
    while (lf_now_ns() < end) {
        /* The position of the first frame this read returns: our own read count. */
        const uint64_t pos = ((lf_header_t *)r->base)->audio_read_count;
        const int64_t t0 = lf_now_ns();
        const uint32_t n = lf_audio_read(r->base, out, BLOCK);
        const int64_t dt = lf_now_ns() - t0;
        if (dt > r->max_read_ns) {
            r->max_read_ns = dt;
        }
        r->reads++;
        r->real += n;
        r->silence += BLOCK - n;
        for (uint32_t i = 0; i < BLOCK; i++) {
            float want = i < n ? (float)((pos + i) & 0xFFFFFu) : 0.0f;
            if (out[2 * i] != want || out[2 * i + 1] != -want) {
                r->bad++;
            }
        }
        next.tv_nsec += PERIOD_NS;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec)) {
            r->late++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME DURATION_S\n", argv[0]);
        return 2;
    }
    lf_shm_t shm;
    char err[256];
    if (lf_session_open(&shm, argv[1], err, sizeof err) != LF_OK) {
        fprintf(stderr, "attach: %s\n", err);
        return 2;
    }
    reader_t r;
    memset(&r, 0, sizeof r);
    r.base = shm.base;
    r.duration_s = atof(argv[2]);
    pthread_t t;
    pthread_create(&t, NULL, reader_main, &r);
    printf("ready\n");
    fflush(stdout);
    pthread_join(t, NULL);
    printf("reads=%" PRIu64 " real=%" PRIu64 " silence=%" PRIu64 " bad=%" PRIu64
           " max_read_ns=%" PRId64 " late=%" PRIu64 "\n",
           r.reads, r.real, r.silence, r.bad, r.max_read_ns, r.late);
    lf_shm_close(&shm);
    return r.bad == 0 ? 0 : 1;
}
