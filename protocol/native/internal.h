/*
 * Private helpers shared by the .c files of protocol/native. Not part of the public API.
 */
#ifndef LIVEFOLEY_PROTOCOL_INTERNAL_H
#define LIVEFOLEY_PROTOCOL_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "livefoley/protocol.h"

#define LF_HDR(base) ((lf_header_t *)(base))
#define LF_CHDR(base) ((const lf_header_t *)(base))

/* Relaxed/acquire/release shorthands; each names its ordering at the call site's intent. */
#define lf_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define lf_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define lf_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define lf_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
/* Counters with one writer: a relaxed load + relaxed store is enough (no RMW needed). */
#define lf_count_add(p, n) lf_store_relaxed((p), lf_load_relaxed(p) + (n))

static inline void lf_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static inline uint64_t lf_round_up(uint64_t value, uint64_t align)
{
    return (value + align - 1u) / align * align;
}

static inline const lf_frame_desc_t *lf_desc_at(const void *base, uint32_t slot)
{
    const lf_header_t *h = LF_CHDR(base);
    return (const lf_frame_desc_t *)((const uint8_t *)base + h->desc_offset) + slot;
}

static inline lf_gpu_slot_t *lf_gpu_at(void *base, uint32_t slot)
{
    const lf_header_t *h = LF_CHDR(base);
    return (lf_gpu_slot_t *)((uint8_t *)base + h->gpu_offset) + slot;
}

#endif /* LIVEFOLEY_PROTOCOL_INTERNAL_H */
