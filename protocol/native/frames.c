/*
 * Frame slots over the session segment, in one of two modes fixed at creation:
 *
 *   latest: a triple-buffered mailbox. The producer owns one slot (latest_back), the
 *           consumer one (latest_front), and the mailbox word holds the third plus a FRESH
 *           bit. Publishing exchanges the producer's slot into the mailbox, so the producer
 *           never waits; acquiring exchanges the consumer's slot for the mailbox's when it
 *           is fresh, so the consumer always gets the newest complete frame. A fresh frame
 *           that the producer replaces before anyone took it counts as dropped.
 *   fifo:   a bounded SPSC queue over slot_count slots (slot = sequence % slot_count) with
 *           64-bit write/read counts: back-pressure, nothing dropped. acquire peeks at the
 *           oldest frame; release frees it, so a consumer that dies holding a frame leaves
 *           it to its successor (at-least-once).
 *
 * Descriptors are copied out and validated after acquisition, so a peer cannot change
 * them between the check and the use. Nothing here allocates or makes a system call.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static inline uint32_t mode_of(const void *base)
{
    return LF_CHDR(base)->frame_mode;
}

static inline uint32_t fifo_slots(const void *base)
{
    return LF_CHDR(base)->slot_count;
}

size_t lf_pixel_bytes_per_pixel(uint32_t pixel_format)
{
    switch (pixel_format) {
    case LF_PIXEL_RGBA8:
    case LF_PIXEL_BGRA8: return 4;
    case LF_PIXEL_RGB8: return 3;
    default: return 0;
    }
}

int lf_frame_desc_check(const void *base, const lf_frame_desc_t *d, char *err, size_t errlen)
{
    const lf_header_t *h = LF_CHDR(base);
    const uint64_t bpp = lf_pixel_bytes_per_pixel(d->pixel_format);
    if (bpp == 0) {
        lf_set_err(err, errlen,
                   "descriptor pixel_format: expected 1 (RGBA8), 2 (BGRA8) or 3 (RGB8), found %u",
                   d->pixel_format);
        return LF_E_DESCRIPTOR;
    }
    if (d->width < 1 || d->width > LF_MAX_FRAME_DIM) {
        lf_set_err(err, errlen, "descriptor width: expected 1..%u, found %u", LF_MAX_FRAME_DIM,
                   d->width);
        return LF_E_DESCRIPTOR;
    }
    if (d->height < 1 || d->height > LF_MAX_FRAME_DIM) {
        lf_set_err(err, errlen, "descriptor height: expected 1..%u, found %u",
                   LF_MAX_FRAME_DIM, d->height);
        return LF_E_DESCRIPTOR;
    }
    const uint64_t row_bytes = (uint64_t)d->width * bpp;
    if (d->row_pitch_bytes < row_bytes) {
        lf_set_err(err, errlen,
                   "descriptor row_pitch_bytes: expected at least %llu (width %u x %llu bytes), found %u",
                   (unsigned long long)row_bytes, d->width, (unsigned long long)bpp,
                   d->row_pitch_bytes);
        return LF_E_DESCRIPTOR;
    }
    if (d->slot_index >= h->slot_count) {
        lf_set_err(err, errlen, "descriptor slot_index: expected 0..%u, found %u",
                   h->slot_count - 1u, d->slot_index);
        return LF_E_DESCRIPTOR;
    }
    if (!isfinite(d->yaw_rad) || !isfinite(d->pitch_rad) || !isfinite(d->roll_rad)) {
        lf_set_err(err, errlen,
                   "descriptor orientation: expected finite yaw/pitch/roll, found %g/%g/%g",
                   (double)d->yaw_rad, (double)d->pitch_rad, (double)d->roll_rad);
        return LF_E_DESCRIPTOR;
    }
    if (d->projection > LF_PROJECTION_CUBEMAP) {
        lf_set_err(err, errlen, "descriptor projection: expected 0 (image) or 1 (cube map), found %u",
                   d->projection);
        return LF_E_DESCRIPTOR;
    }
    if (d->projection == LF_PROJECTION_CUBEMAP && (uint64_t)d->height != 6ull * d->width) {
        lf_set_err(err, errlen,
                   "descriptor cube map: expected height 6 x width (6 square faces stacked), "
                   "found %ux%u",
                   d->width, d->height);
        return LF_E_DESCRIPTOR;
    }
    const uint64_t bytes = (uint64_t)d->row_pitch_bytes * (d->height - 1u) + row_bytes;
    if (d->location == LF_LOCATION_HOST) {
        if (bytes > h->max_frame_bytes) {
            lf_set_err(err, errlen,
                       "descriptor size: expected at most %llu bytes (max_frame_bytes), found %llu",
                       (unsigned long long)h->max_frame_bytes, (unsigned long long)bytes);
            return LF_E_DESCRIPTOR;
        }
    } else if (d->location == LF_LOCATION_GPU) {
        const lf_gpu_slot_t *g = lf_gpu_at((void *)base, d->slot_index);
        if (g->kind < LF_GPU_CUDA_IPC || g->kind > LF_GPU_D3D11_NT_HANDLE) {
            lf_set_err(err, errlen,
                       "descriptor gpu slot %u kind: expected a registered kind (1..3), found %u",
                       d->slot_index, g->kind);
            return LF_E_GPU_SLOT;
        }
        if (bytes > g->byte_size) {
            lf_set_err(err, errlen,
                       "descriptor size: expected at most %llu bytes (gpu slot %u), found %llu",
                       (unsigned long long)g->byte_size, d->slot_index,
                       (unsigned long long)bytes);
            return LF_E_GPU_SLOT;
        }
    } else {
        lf_set_err(err, errlen, "descriptor location: expected 0 (host) or 1 (gpu), found %u",
                   d->location);
        return LF_E_DESCRIPTOR;
    }
    return LF_OK;
}

uint8_t *lf_frame_slot_pixels(void *base, uint32_t slot_index)
{
    const lf_header_t *h = LF_CHDR(base);
    if (slot_index >= h->slot_count || h->max_frame_bytes == 0) {
        return NULL;
    }
    return (uint8_t *)base + h->pixels_offset + (uint64_t)slot_index * h->pixel_slot_stride_bytes;
}

int lf_frame_begin(void *base, uint32_t *slot_index)
{
    lf_header_t *h = LF_HDR(base);
    if (mode_of(base) == LF_FRAME_MODE_LATEST) {
        const uint32_t back = lf_load_relaxed(&h->latest_back);
        if (back >= 3u) {
            return LF_E_STATE;
        }
        *slot_index = back;
        return LF_OK;
    }
    const uint64_t w = lf_load_relaxed(&h->fifo_write_count);
    /* Acquire pairs with the consumer's release in lf_frame_release: its reads of the slot
     * we are about to refill are finished. */
    const uint64_t r = lf_load_acquire(&h->fifo_read_count);
    if (w - r >= fifo_slots(base)) {
        return LF_E_FULL;
    }
    *slot_index = (uint32_t)(w % fifo_slots(base));
    return LF_OK;
}

void lf_frame_note_refused(void *base)
{
    lf_count_add(&LF_HDR(base)->frames_refused, 1u);
}

int lf_frame_commit(void *base, uint32_t slot_index, const lf_frame_desc_t *desc, char *err,
                    size_t errlen)
{
    lf_header_t *h = LF_HDR(base);
    uint32_t expected;
    int rc = lf_frame_begin(base, &expected);
    if (rc != LF_OK) {
        lf_set_err(err, errlen, "commit: no writable slot (%s)", lf_strerror(rc));
        return rc;
    }
    if (slot_index != expected) {
        lf_set_err(err, errlen, "commit slot: expected %u (the producer's writable slot), found %u",
                   expected, slot_index);
        return LF_E_STATE;
    }
    lf_frame_desc_t copy = *desc;
    copy.slot_index = slot_index;
    if ((rc = lf_frame_desc_check(base, &copy, err, errlen)) != LF_OK) {
        return rc;
    }
    memcpy((lf_frame_desc_t *)lf_desc_at(base, slot_index), &copy, sizeof copy);
    if (copy.location == LF_LOCATION_GPU) {
        lf_gpu_at(base, slot_index)->fence_value = copy.fence_value;
    }
    if (mode_of(base) == LF_FRAME_MODE_LATEST) {
        /* acq_rel: release publishes pixels + descriptor; acquire orders the consumer's
         * earlier reads of the slot we get back before our next writes into it. */
        const uint32_t old = atomic_exchange_explicit(&h->mailbox, slot_index | LF_MAILBOX_FRESH,
                                                      memory_order_acq_rel);
        lf_store_relaxed(&h->latest_back, old & LF_MAILBOX_INDEX_MASK);
        if (old & LF_MAILBOX_FRESH) {
            lf_count_add(&h->frames_dropped, 1u);
        }
    } else {
        const uint64_t w = lf_load_relaxed(&h->fifo_write_count);
        lf_store_release(&h->fifo_write_count, w + 1u);
    }
    lf_count_add(&h->frames_published, 1u);
    return LF_OK;
}

int lf_frame_publish_host(void *base, const lf_frame_desc_t *desc, const void *pixels,
                          uint64_t src_pitch_bytes, char *err, size_t errlen)
{
    uint32_t slot;
    int rc = lf_frame_begin(base, &slot);
    if (rc == LF_E_FULL) {
        lf_frame_note_refused(base);
        lf_set_err(err, errlen, "publish: no free slot (fifo full)");
        return rc;
    }
    if (rc != LF_OK) {
        lf_set_err(err, errlen, "publish: %s", lf_strerror(rc));
        return rc;
    }
    lf_frame_desc_t copy = *desc;
    copy.slot_index = slot;
    if (copy.location != LF_LOCATION_HOST) {
        lf_set_err(err, errlen, "descriptor location: expected 0 (host), found %u", copy.location);
        return LF_E_DESCRIPTOR;
    }
    if ((rc = lf_frame_desc_check(base, &copy, err, errlen)) != LF_OK) {
        return rc;
    }
    const uint64_t row_bytes = (uint64_t)copy.width * lf_pixel_bytes_per_pixel(copy.pixel_format);
    if (src_pitch_bytes < row_bytes) {
        lf_set_err(err, errlen, "source pitch: expected at least %llu, found %llu",
                   (unsigned long long)row_bytes, (unsigned long long)src_pitch_bytes);
        return LF_E_INVALID_ARG;
    }
    uint8_t *dst = lf_frame_slot_pixels(base, slot);
    const uint8_t *src = (const uint8_t *)pixels;
    if (src_pitch_bytes == copy.row_pitch_bytes) {
        memcpy(dst, src, (size_t)(src_pitch_bytes * (copy.height - 1u) + row_bytes));
    } else {
        for (uint32_t y = 0; y < copy.height; y++) {
            memcpy(dst + (uint64_t)y * copy.row_pitch_bytes, src + (uint64_t)y * src_pitch_bytes,
                   (size_t)row_bytes);
        }
    }
    return lf_frame_commit(base, slot, &copy, err, errlen);
}

int lf_frame_acquire(void *base, uint32_t *slot_index, lf_frame_desc_t *desc_out, char *err,
                     size_t errlen)
{
    lf_header_t *h = LF_HDR(base);
    uint32_t slot;
    if (mode_of(base) == LF_FRAME_MODE_LATEST) {
        if (!(lf_load_relaxed(&h->mailbox) & LF_MAILBOX_FRESH)) {
            return LF_E_EMPTY;
        }
        const uint32_t front = lf_load_relaxed(&h->latest_front);
        /* acq_rel: acquire sees the producer's pixels + descriptor for the slot we take;
         * release hands our old front back only after our reads of it. */
        const uint32_t old = atomic_exchange_explicit(&h->mailbox, front, memory_order_acq_rel);
        slot = old & LF_MAILBOX_INDEX_MASK;
        lf_store_relaxed(&h->latest_front, slot);
        if (slot >= 3u) {
            lf_set_err(err, errlen, "mailbox slot: expected 0..2, found %u", slot);
            return LF_E_STATE;
        }
    } else {
        const uint64_t r = lf_load_relaxed(&h->fifo_read_count);
        const uint64_t w = lf_load_acquire(&h->fifo_write_count);
        if (w == r) {
            return LF_E_EMPTY;
        }
        if (w - r > fifo_slots(base)) {
            lf_set_err(err, errlen, "fifo fill: expected at most %u, found %llu",
                       fifo_slots(base), (unsigned long long)(w - r));
            return LF_E_STATE;
        }
        slot = (uint32_t)(r % fifo_slots(base));
    }
    memcpy(desc_out, lf_desc_at(base, slot), sizeof *desc_out);
    int rc = lf_frame_desc_check(base, desc_out, err, errlen);
    if (rc == LF_OK && desc_out->slot_index != slot) {
        lf_set_err(err, errlen, "descriptor slot_index: expected %u, found %u", slot,
                   desc_out->slot_index);
        rc = LF_E_DESCRIPTOR;
    }
    if (rc != LF_OK) {
        lf_count_add(&h->frames_rejected, 1u);
        if (mode_of(base) == LF_FRAME_MODE_FIFO) {
            lf_store_release(&h->fifo_read_count, lf_load_relaxed(&h->fifo_read_count) + 1u);
        }
        return LF_E_DESCRIPTOR;
    }
    if (mode_of(base) == LF_FRAME_MODE_LATEST) {
        lf_count_add(&h->frames_acquired, 1u);
    }
    *slot_index = slot;
    return LF_OK;
}

int lf_frame_release(void *base, uint32_t slot_index)
{
    lf_header_t *h = LF_HDR(base);
    if (mode_of(base) == LF_FRAME_MODE_LATEST) {
        return slot_index == lf_load_relaxed(&h->latest_front) ? LF_OK : LF_E_STATE;
    }
    const uint64_t r = lf_load_relaxed(&h->fifo_read_count);
    const uint64_t w = lf_load_acquire(&h->fifo_write_count);
    if (w == r || slot_index != (uint32_t)(r % fifo_slots(base))) {
        return LF_E_STATE;
    }
    /* Release: our reads of the slot happen before the producer refills it. fifo frames
     * count as acquired here, because acquire is a repeatable peek. */
    lf_store_release(&h->fifo_read_count, r + 1u);
    lf_count_add(&h->frames_acquired, 1u);
    return LF_OK;
}

int lf_gpu_slot_register(void *base, uint32_t slot_index, const lf_gpu_slot_t *slot)
{
    if (base == NULL || slot == NULL || slot_index >= LF_CHDR(base)->slot_count) {
        return LF_E_INVALID_ARG;
    }
    if (slot->kind > LF_GPU_D3D11_NT_HANDLE) {
        return LF_E_GPU_SLOT;
    }
    memcpy(lf_gpu_at(base, slot_index), slot, sizeof *slot);
    return LF_OK;
}

int lf_gpu_slot_get(const void *base, uint32_t slot_index, lf_gpu_slot_t *out)
{
    if (base == NULL || out == NULL || slot_index >= LF_CHDR(base)->slot_count) {
        return LF_E_INVALID_ARG;
    }
    memcpy(out, lf_gpu_at((void *)base, slot_index), sizeof *out);
    return LF_OK;
}
