/* Cross-process frame slot stress, one side of it (the segment's mode decides latest/fifo).
 *   stress_frames produce NAME FRAMES SEED   publish frames 0..FRAMES-1 (stream.h)
 *   stress_frames consume NAME FRAMES SEED   acquire until frame FRAMES-1, verify each
 * The consumer prints "acquired=A torn=T order=O size=S" and exits 0 only when no frame
 * was torn, out of order, or (fifo) missing. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "livefoley/protocol.h"
#include "stream.h"

static int produce(void *base, uint64_t frames, uint64_t seed)
{
    char err[256];
    for (uint64_t k = 0; k < frames; k++) {
        uint32_t slot;
        while (lf_frame_begin(base, &slot) == LF_E_FULL) {
            nap_us(20);
        }
        lf_frame_desc_t d;
        memset(&d, 0, sizeof d);
        d.frame_index = k;
        d.capture_ns = lf_now_ns();
        d.width = frame_width(seed, k);
        d.height = frame_height(seed, k);
        d.row_pitch_bytes = d.width * 4u;
        d.pixel_format = LF_PIXEL_RGBA8;
        d.location = LF_LOCATION_HOST;
        d.yaw_rad = (float)(k % 628u) * 0.01f;
        fill_frame(lf_frame_slot_pixels(base, slot), k, d.width, d.height, d.row_pitch_bytes);
        int rc = lf_frame_commit(base, slot, &d, err, sizeof err);
        if (rc != LF_OK) {
            fprintf(stderr, "commit frame %" PRIu64 ": %s\n", k, err);
            return 1;
        }
    }
    return 0;
}

static int consume(void *base, uint64_t frames, uint64_t seed)
{
    const int fifo = ((const lf_header_t *)base)->frame_mode == LF_FRAME_MODE_FIFO;
    uint64_t acquired = 0, torn = 0, order = 0, size = 0;
    int64_t next = 0; /* fifo: the exact next index; latest: the least acceptable one */
    int64_t idle_since = lf_now_ns();
    char err[256];
    for (;;) {
        uint32_t slot;
        lf_frame_desc_t d;
        int rc = lf_frame_acquire(base, &slot, &d, err, sizeof err);
        if (rc == LF_E_EMPTY) {
            if (lf_now_ns() - idle_since > 20000000000LL) {
                fprintf(stderr, "consumer: nothing for 20 s after %" PRId64 "\n", next);
                break;
            }
            nap_us(20);
            continue;
        }
        if (rc != LF_OK) {
            fprintf(stderr, "acquire: %s\n", err);
            return 1;
        }
        idle_since = lf_now_ns();
        acquired++;
        const uint64_t k = d.frame_index;
        if (fifo ? (int64_t)k != next : (int64_t)k < next) {
            order++;
        }
        if (d.width != frame_width(seed, k) || d.height != frame_height(seed, k)) {
            size++;
        } else if (!check_frame(lf_frame_slot_pixels(base, slot), k, d.width, d.height,
                                d.row_pitch_bytes)) {
            torn++;
        }
        lf_frame_release(base, slot);
        next = (int64_t)k + 1;
        if (k + 1 == frames) {
            break;
        }
    }
    printf("acquired=%" PRIu64 " torn=%" PRIu64 " order=%" PRIu64 " size=%" PRIu64 "\n", acquired,
           torn, order, size);
    const int complete = next == (int64_t)frames && (!fifo || acquired == frames);
    return (complete && torn == 0 && order == 0 && size == 0) ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s produce|consume NAME FRAMES SEED\n", argv[0]);
        return 2;
    }
    lf_shm_t shm;
    char err[256];
    if (lf_session_open(&shm, argv[2], err, sizeof err) != LF_OK) {
        fprintf(stderr, "attach %s: %s\n", argv[2], err);
        return 2;
    }
    uint64_t frames = strtoull(argv[3], NULL, 10), seed = strtoull(argv[4], NULL, 10);
    int rc = strcmp(argv[1], "produce") == 0 ? produce(shm.base, frames, seed)
                                             : consume(shm.base, frames, seed);
    lf_shm_close(&shm);
    return rc;
}
