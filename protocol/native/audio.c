/*
 * Audio ring over the session segment: single producer (the sidecar, or any one writer),
 * single consumer (the engine's audio thread). float32 interleaved, capacity a power of two
 * in frames, 64-bit monotonic frame counters on separate cache lines (header lines 10 and
 * 11). The read path takes no lock, allocates nothing and makes no system call: two atomic
 * loads, at most two memcpy, a memset for silence, one release store and counter updates.
 *
 * Ordering (see protocol/README.md for the full argument):
 *   producer: load-acquire read_count -> write samples -> store-release write_count
 *   consumer: load-acquire write_count -> read samples -> store-release read_count
 */
#include <string.h>

#include "internal.h"

static inline float *ring_data(void *base)
{
    return (float *)((uint8_t *)base + LF_CHDR(base)->audio_offset);
}

static uint32_t ring_write(lf_header_t *h, float *data, uint64_t capacity, uint64_t channels,
                           const float *in, uint32_t frames)
{
    /* Own counter: only this side stores it, relaxed is enough to read it back. */
    const uint64_t w = lf_load_relaxed(&h->audio_write_count);
    /* Acquire pairs with the consumer's release of read_count: its reads of the frames we
     * are about to overwrite happened before this point, so we never clobber them. */
    const uint64_t r = lf_load_acquire(&h->audio_read_count);
    uint64_t used = w - r;
    if (used > capacity) {
        used = capacity; /* a corrupted counter: refuse to write rather than overwrite */
    }
    const uint64_t space = capacity - used;
    const uint32_t n = (uint64_t)frames < space ? frames : (uint32_t)space;
    if (n > 0) {
        const uint64_t start = w & (capacity - 1u);
        const uint64_t first = (uint64_t)n < capacity - start ? n : capacity - start;
        memcpy(data + start * channels, in, (size_t)(first * channels * sizeof(float)));
        if (first < n) {
            memcpy(data, in + first * channels, (size_t)((n - first) * channels * sizeof(float)));
        }
        /* Release: the samples above are visible to whoever acquires the new count. */
        lf_store_release(&h->audio_write_count, w + n);
    }
    if (n < frames) {
        lf_count_add(&h->audio_overflow_frames, (uint64_t)(frames - n));
    }
    return n;
}

static uint32_t ring_read(lf_header_t *h, const float *data, uint64_t capacity,
                          uint64_t channels, float *out, uint32_t frames)
{
    const uint64_t r = lf_load_relaxed(&h->audio_read_count);
    /* Acquire pairs with the producer's release: samples below count are fully written. */
    const uint64_t w = lf_load_acquire(&h->audio_write_count);
    const uint64_t avail = w - r;
    uint32_t n = 0;
    if (avail > capacity) {
        /* Impossible from a correct producer. Resynchronise to its count and play silence
         * instead of replaying stale or foreign bytes. */
        lf_store_release(&h->audio_read_count, w);
    } else {
        n = (uint64_t)frames < avail ? frames : (uint32_t)avail;
    }
    if (n > 0) {
        const uint64_t start = r & (capacity - 1u);
        const uint64_t first = (uint64_t)n < capacity - start ? n : capacity - start;
        memcpy(out, data + start * channels, (size_t)(first * channels * sizeof(float)));
        if (first < n) {
            memcpy(out + first * channels, data, (size_t)((n - first) * channels * sizeof(float)));
        }
        /* Release: our reads of these frames happen before the producer may reuse them. */
        lf_store_release(&h->audio_read_count, r + n);
    }
    if (n < frames) {
        memset(out + (uint64_t)n * channels, 0,
               (size_t)((uint64_t)(frames - n) * channels * sizeof(float)));
        lf_count_add(&h->underrun_frames, (uint64_t)(frames - n));
        lf_count_add(&h->underrun_events, 1u);
    }
    lf_count_add(&h->audio_reads, 1u);
    return n;
}

uint32_t lf_audio_write(void *base, const float *in, uint32_t frames)
{
    lf_header_t *h = LF_HDR(base);
    return ring_write(h, ring_data(base), h->ring_capacity_frames, h->channels, in, frames);
}

uint32_t lf_audio_read(void *base, float *out, uint32_t frames)
{
    lf_header_t *h = LF_HDR(base);
    return ring_read(h, ring_data(base), h->ring_capacity_frames, h->channels, out, frames);
}

int lf_audio_view_init(lf_audio_view_t *view, void *base, size_t mapped_size, char *err,
                       size_t errlen)
{
    if (view == NULL) {
        return LF_E_INVALID_ARG;
    }
    int rc = lf_segment_validate(base, mapped_size, err, errlen);
    if (rc != LF_OK) {
        return rc;
    }
    const lf_header_t *h = LF_CHDR(base);
    view->base = base;
    view->data = ring_data(base);
    view->capacity_frames = h->ring_capacity_frames;
    view->channels = h->channels;
    view->reserved0 = 0;
    return LF_OK;
}

uint32_t lf_audio_view_write(const lf_audio_view_t *v, const float *in, uint32_t frames)
{
    return ring_write(LF_HDR(v->base), v->data, v->capacity_frames, v->channels, in, frames);
}

uint32_t lf_audio_view_read(const lf_audio_view_t *v, float *out, uint32_t frames)
{
    return ring_read(LF_HDR(v->base), v->data, v->capacity_frames, v->channels, out, frames);
}

uint64_t lf_audio_fill_frames(const void *base)
{
    lf_header_t *h = (lf_header_t *)base;
    const uint64_t r = lf_load_acquire(&h->audio_read_count);
    const uint64_t w = lf_load_acquire(&h->audio_write_count);
    const uint64_t fill = w - r;
    return fill > h->ring_capacity_frames ? h->ring_capacity_frames : fill;
}

uint64_t lf_audio_free_frames(const void *base)
{
    return LF_CHDR(base)->ring_capacity_frames - lf_audio_fill_frames(base);
}

void lf_audio_reset_position(void *base, uint64_t position)
{
    lf_header_t *h = LF_HDR(base);
    lf_store_release(&h->audio_read_count, position);
    lf_store_release(&h->audio_write_count, position);
}
