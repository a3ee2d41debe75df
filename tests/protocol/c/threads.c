/* Two threads, one segment in ordinary memory: the audio ring and both frame modes under
 * ThreadSanitizer (and plain builds). Producer and consumer are the stream.h ones.
 *   threads BLOCKS FRAMES
 * Prints one line per part and exits 0 when nothing was torn, lost or duplicated. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "livefoley/protocol.h"
#include "stream.h"

#define SEED 1234u

typedef struct {
    void *base;
    uint64_t count;
    uint64_t errors;
    uint64_t seen;
} job_t;

static void *audio_producer(void *arg)
{
    job_t *j = (job_t *)arg;
    float buf[2 * MAX_BLOCK_FRAMES];
    for (uint64_t seq = 0; seq < j->count; seq++) {
        uint32_t n = block_len(SEED, seq), done = 0;
        make_block(buf, seq, n);
        while (done < n) {
            uint32_t got = lf_audio_write(j->base, buf + 2 * done, n - done);
            done += got;
            if (got == 0) {
                nap_us(10);
            }
        }
    }
    return NULL;
}

static void *audio_consumer(void *arg)
{
    job_t *j = (job_t *)arg;
    float buf[2 * 300];
    uint64_t seq = 0, rng = 99;
    uint32_t off = 0, len = block_len(SEED, 0);
    while (seq < j->count) {
        rng = splitmix64(rng);
        uint32_t n = lf_audio_read(j->base, buf, 1u + (uint32_t)(rng % 300u));
        if (n == 0) {
            nap_us(10);
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t w0, w1;
            memcpy(&w0, &buf[2 * i], 4);
            memcpy(&w1, &buf[2 * i + 1], 4);
            j->errors += w0 != (uint32_t)seq || w1 != frame_check(seq, off);
            j->seen++;
            if (++off == len) {
                off = 0;
                seq++;
                len = block_len(SEED, seq);
            }
        }
    }
    return NULL;
}

static void *frame_producer(void *arg)
{
    job_t *j = (job_t *)arg;
    char err[128];
    for (uint64_t k = 0; k < j->count; k++) {
        uint32_t slot;
        while (lf_frame_begin(j->base, &slot) == LF_E_FULL) {
            nap_us(10);
        }
        lf_frame_desc_t d;
        memset(&d, 0, sizeof d);
        d.frame_index = k;
        d.width = frame_width(SEED, k);
        d.height = frame_height(SEED, k);
        d.row_pitch_bytes = d.width * 4u;
        d.pixel_format = LF_PIXEL_RGBA8;
        fill_frame(lf_frame_slot_pixels(j->base, slot), k, d.width, d.height, d.row_pitch_bytes);
        if (lf_frame_commit(j->base, slot, &d, err, sizeof err) != LF_OK) {
            j->errors++;
        }
    }
    return NULL;
}

static void *frame_consumer(void *arg)
{
    job_t *j = (job_t *)arg;
    const int fifo = ((lf_header_t *)j->base)->frame_mode == LF_FRAME_MODE_FIFO;
    int64_t next = 0;
    char err[128];
    while (next < (int64_t)j->count) {
        uint32_t slot;
        lf_frame_desc_t d;
        int rc = lf_frame_acquire(j->base, &slot, &d, err, sizeof err);
        if (rc == LF_E_EMPTY) {
            nap_us(10);
            continue;
        }
        if (rc != LF_OK) {
            j->errors++;
            break;
        }
        j->seen++;
        int64_t k = (int64_t)d.frame_index;
        j->errors += fifo ? k != next : k < next;
        j->errors += !check_frame(lf_frame_slot_pixels(j->base, slot), (uint64_t)k, d.width,
                                  d.height, d.row_pitch_bytes);
        lf_frame_release(j->base, slot);
        next = k + 1;
    }
    return NULL;
}

static void *make_segment(uint32_t mode)
{
    lf_params_t p = {48000, 2, 1024, mode, mode == LF_FRAME_MODE_FIFO ? 4u : 3u, 0,
                     MAX_FRAME_W * MAX_FRAME_H * 4u};
    size_t size = lf_segment_size(&p);
    void *base = aligned_alloc(LF_PAGE_BYTES, size);
    if (base == NULL || lf_segment_init(base, size, &p) != LF_OK) {
        fprintf(stderr, "segment init failed\n");
        exit(2);
    }
    return base;
}

static int run(const char *what, void *base, uint64_t count, void *(*prod)(void *),
               void *(*cons)(void *))
{
    job_t pj = {base, count, 0, 0}, cj = {base, count, 0, 0};
    pthread_t a, b;
    pthread_create(&b, NULL, cons, &cj);
    pthread_create(&a, NULL, prod, &pj);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    lf_counters_t c;
    lf_counters_read(base, &c);
    printf("%s: count=%" PRIu64 " seen=%" PRIu64 " errors=%" PRIu64 " dropped=%" PRIu64 "\n", what,
           count, cj.seen, pj.errors + cj.errors, c.frames_dropped);
    free(base);
    return pj.errors + cj.errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BLOCKS FRAMES\n", argv[0]);
        return 2;
    }
    uint64_t blocks = strtoull(argv[1], NULL, 10), frames = strtoull(argv[2], NULL, 10);
    int rc = 0;
    rc |= run("audio", make_segment(LF_FRAME_MODE_LATEST), blocks, audio_producer, audio_consumer);
    rc |= run("latest", make_segment(LF_FRAME_MODE_LATEST), frames, frame_producer, frame_consumer);
    rc |= run("fifo", make_segment(LF_FRAME_MODE_FIFO), frames, frame_producer, frame_consumer);
    return rc;
}
