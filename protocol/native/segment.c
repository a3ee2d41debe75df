/*
 * Session segment: sizing, initialisation, validation, state, endpoint, heartbeats and
 * counters. Nothing here is on the audio thread's path; the ring is audio.c.
 */
#include <string.h>

#include "internal.h"

/* The layout is ABI: pin it at compile time so a compiler or edit that moves a field
 * fails the build instead of corrupting a peer. */
_Static_assert(sizeof(lf_header_t) == LF_HEADER_BYTES, "lf_header_t must be 1024 bytes");
_Static_assert(sizeof(lf_frame_desc_t) == 64, "lf_frame_desc_t must be 64 bytes");
_Static_assert(sizeof(lf_gpu_slot_t) == 256, "lf_gpu_slot_t must be 256 bytes");
_Static_assert(offsetof(lf_header_t, sample_rate_hz) == 64, "params on line 1");
_Static_assert(offsetof(lf_header_t, audio_offset) == 128, "region table on line 2");
_Static_assert(offsetof(lf_header_t, state) == 192, "state on line 3");
_Static_assert(offsetof(lf_header_t, control_endpoint) == 256, "endpoint on lines 4-7");
_Static_assert(offsetof(lf_header_t, host_heartbeat_ns) == 512, "host heartbeat line 8");
_Static_assert(offsetof(lf_header_t, sidecar_heartbeat_ns) == 576, "sidecar line 9");
_Static_assert(offsetof(lf_header_t, audio_write_count) == 640, "audio writer line 10");
_Static_assert(offsetof(lf_header_t, audio_read_count) == 704, "audio reader line 11");
_Static_assert(offsetof(lf_header_t, mailbox) == 768, "mailbox line 12");
_Static_assert(offsetof(lf_header_t, latest_back) == 832, "frame producer line 13");
_Static_assert(offsetof(lf_header_t, latest_front) == 896, "frame consumer line 14");
/* Cross-process atomics must be lock-free (hence address-free in practice): a lock-based
 * fallback would live in one process's memory and synchronise nothing. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be always lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be always lock-free");
_Static_assert(sizeof(LF_ATOMIC(uint64_t)) == 8, "atomic u64 must be 8 bytes");
_Static_assert(sizeof(LF_ATOMIC(uint32_t)) == 4, "atomic u32 must be 4 bytes");

const char *lf_strerror(int code)
{
    switch (code) {
    case LF_OK: return "ok";
    case LF_E_INVALID_ARG: return "invalid argument";
    case LF_E_NOT_FOUND: return "segment not found";
    case LF_E_EXISTS: return "segment already exists";
    case LF_E_OS: return "operating system error";
    case LF_E_BAD_MAGIC: return "bad magic (not a LiveFoley segment)";
    case LF_E_ABI: return "ABI version mismatch";
    case LF_E_TOO_SMALL: return "segment smaller than its header says";
    case LF_E_LAYOUT: return "region offset or size out of range";
    case LF_E_PARAMS: return "invalid session parameters";
    case LF_E_EMPTY: return "no frame available";
    case LF_E_FULL: return "no free frame slot";
    case LF_E_DESCRIPTOR: return "invalid frame descriptor";
    case LF_E_STATE: return "slot not owned by the caller";
    case LF_E_GPU_SLOT: return "GPU slot not registered or too small";
    case LF_E_NAME: return "invalid segment name";
    case LF_E_UNSUPPORTED: return "not supported on this platform";
    default: return "unknown error code";
    }
}

static int check_params_fields(uint32_t rate, uint32_t channels, uint32_t capacity,
                               uint32_t mode, uint32_t slots, uint64_t max_frame_bytes,
                               char *err, size_t errlen)
{
    if (rate < LF_MIN_SAMPLE_RATE_HZ || rate > LF_MAX_SAMPLE_RATE_HZ) {
        lf_set_err(err, errlen, "sample_rate_hz: expected %u..%u, found %u",
                   LF_MIN_SAMPLE_RATE_HZ, LF_MAX_SAMPLE_RATE_HZ, rate);
        return LF_E_PARAMS;
    }
    if (channels < 1 || channels > LF_MAX_CHANNELS) {
        lf_set_err(err, errlen, "channels: expected 1..%u, found %u", LF_MAX_CHANNELS,
                   channels);
        return LF_E_PARAMS;
    }
    if (capacity < LF_MIN_RING_FRAMES || capacity > LF_MAX_RING_FRAMES ||
        (capacity & (capacity - 1u)) != 0) {
        lf_set_err(err, errlen,
                   "ring_capacity_frames: expected a power of two in %u..%u, found %u",
                   LF_MIN_RING_FRAMES, LF_MAX_RING_FRAMES, capacity);
        return LF_E_PARAMS;
    }
    if (mode != LF_FRAME_MODE_LATEST && mode != LF_FRAME_MODE_FIFO) {
        lf_set_err(err, errlen, "frame_mode: expected 0 (latest) or 1 (fifo), found %u", mode);
        return LF_E_PARAMS;
    }
    uint32_t min_slots = mode == LF_FRAME_MODE_LATEST ? 3u : 1u;
    if (slots < min_slots || slots > LF_MAX_SLOTS) {
        lf_set_err(err, errlen, "slot_count: expected %u..%u for %s mode, found %u",
                   min_slots, LF_MAX_SLOTS, mode == LF_FRAME_MODE_LATEST ? "latest" : "fifo",
                   slots);
        return LF_E_PARAMS;
    }
    if (max_frame_bytes > LF_MAX_FRAME_BYTES) {
        lf_set_err(err, errlen, "max_frame_bytes: expected at most %llu, found %llu",
                   (unsigned long long)LF_MAX_FRAME_BYTES, (unsigned long long)max_frame_bytes);
        return LF_E_PARAMS;
    }
    return LF_OK;
}

int lf_params_check(const lf_params_t *p, char *err, size_t errlen)
{
    if (p == NULL) {
        lf_set_err(err, errlen, "params: expected a pointer, found NULL");
        return LF_E_INVALID_ARG;
    }
    return check_params_fields(p->sample_rate_hz, p->channels, p->ring_capacity_frames,
                               p->frame_mode, p->slot_count, p->max_frame_bytes, err, errlen);
}

/* The one place the region layout is computed; validate compares a header against it. */
typedef struct layout {
    uint64_t audio_offset, audio_bytes, desc_offset, desc_bytes, gpu_offset, gpu_bytes;
    uint64_t pixels_offset, pixels_bytes, stride, total;
} layout_t;

static layout_t compute_layout(uint32_t channels, uint32_t capacity, uint32_t slots,
                               uint64_t max_frame_bytes)
{
    layout_t l;
    l.audio_offset = lf_round_up(LF_HEADER_BYTES, LF_PAGE_BYTES);
    l.audio_bytes = (uint64_t)capacity * channels * sizeof(float);
    l.desc_offset = lf_round_up(l.audio_offset + l.audio_bytes, LF_PAGE_BYTES);
    l.desc_bytes = (uint64_t)slots * sizeof(lf_frame_desc_t);
    l.gpu_offset = lf_round_up(l.desc_offset + l.desc_bytes, LF_CACHE_LINE_BYTES);
    l.gpu_bytes = (uint64_t)slots * sizeof(lf_gpu_slot_t);
    l.stride = lf_round_up(max_frame_bytes, LF_PAGE_BYTES);
    l.pixels_offset = lf_round_up(l.gpu_offset + l.gpu_bytes, LF_PAGE_BYTES);
    l.pixels_bytes = l.stride * slots;
    l.total = lf_round_up(l.pixels_offset + l.pixels_bytes, LF_PAGE_BYTES);
    return l;
}

size_t lf_segment_size(const lf_params_t *p)
{
    if (lf_params_check(p, NULL, 0) != LF_OK) {
        return 0;
    }
    layout_t l = compute_layout(p->channels, p->ring_capacity_frames, p->slot_count,
                                p->max_frame_bytes);
    return (size_t)l.total;
}

int lf_segment_init(void *base, size_t size, const lf_params_t *p)
{
    if (base == NULL || lf_params_check(p, NULL, 0) != LF_OK) {
        return base == NULL ? LF_E_INVALID_ARG : LF_E_PARAMS;
    }
    layout_t l = compute_layout(p->channels, p->ring_capacity_frames, p->slot_count,
                                p->max_frame_bytes);
    if (size < l.total) {
        return LF_E_TOO_SMALL;
    }
    /* Zeroing every page also pre-faults the mapping, so the audio thread never takes a
     * first-touch page fault on the ring. */
    memset(base, 0, size);
    lf_header_t *h = LF_HDR(base);
    h->abi_version = LF_ABI_VERSION;
    h->header_bytes = LF_HEADER_BYTES;
    h->total_bytes = l.total;
    h->created_by_pid = lf_current_pid();
    h->created_ns = lf_now_ns();
    h->sample_rate_hz = p->sample_rate_hz;
    h->channels = p->channels;
    h->ring_capacity_frames = p->ring_capacity_frames;
    h->frame_mode = p->frame_mode;
    h->slot_count = p->slot_count;
    h->max_frame_bytes = p->max_frame_bytes;
    h->pixel_slot_stride_bytes = l.stride;
    h->audio_offset = l.audio_offset;
    h->audio_bytes = l.audio_bytes;
    h->desc_offset = l.desc_offset;
    h->desc_bytes = l.desc_bytes;
    h->gpu_offset = l.gpu_offset;
    h->gpu_bytes = l.gpu_bytes;
    h->pixels_offset = l.pixels_offset;
    h->pixels_bytes = l.pixels_bytes;
    lf_store_relaxed(&h->state, (uint32_t)LF_STATE_CREATED);
    /* Triple buffer: producer owns 0, the mailbox holds 1 (not fresh), consumer owns 2. */
    lf_store_relaxed(&h->latest_back, 0u);
    lf_store_relaxed(&h->mailbox, 1u);
    lf_store_relaxed(&h->latest_front, 2u);
    for (uint32_t i = 0; i < p->slot_count; i++) {
        ((lf_frame_desc_t *)((uint8_t *)base + l.desc_offset))[i].slot_index = i;
    }
    /* Magic last, with release: an attacher that acquires the magic sees the whole header. */
    lf_store_release(&h->magic, LF_MAGIC);
    return LF_OK;
}

static int check_region(const char *name, uint64_t offset, uint64_t bytes, uint64_t expect_off,
                        uint64_t expect_bytes, uint64_t total, char *err, size_t errlen)
{
    if (offset < LF_HEADER_BYTES || offset > total || bytes > total - offset) {
        lf_set_err(err, errlen,
                   "%s region: expected offset+size within %u..%llu, found offset %llu size %llu",
                   name, LF_HEADER_BYTES, (unsigned long long)total,
                   (unsigned long long)offset, (unsigned long long)bytes);
        return LF_E_LAYOUT;
    }
    if (offset != expect_off || bytes != expect_bytes) {
        lf_set_err(err, errlen,
                   "%s region: expected offset %llu size %llu, found offset %llu size %llu",
                   name, (unsigned long long)expect_off, (unsigned long long)expect_bytes,
                   (unsigned long long)offset, (unsigned long long)bytes);
        return LF_E_LAYOUT;
    }
    return LF_OK;
}

int lf_segment_validate(const void *base, size_t mapped_size, char *err, size_t errlen)
{
    if (base == NULL) {
        lf_set_err(err, errlen, "segment: expected a mapping, found NULL");
        return LF_E_INVALID_ARG;
    }
    if (mapped_size < sizeof(uint64_t) * 2) {
        lf_set_err(err, errlen, "segment size: expected at least %u bytes, found %zu",
                   LF_HEADER_BYTES, mapped_size);
        return LF_E_TOO_SMALL;
    }
    const lf_header_t *h = LF_CHDR(base);
    uint64_t magic = lf_load_acquire(&((lf_header_t *)h)->magic);
    if (magic != LF_MAGIC) {
        lf_set_err(err, errlen, "magic: expected 0x%016llx, found 0x%016llx",
                   (unsigned long long)LF_MAGIC, (unsigned long long)magic);
        return LF_E_BAD_MAGIC;
    }
    if (h->abi_version != LF_ABI_VERSION) {
        lf_set_err(err, errlen, "ABI version: expected %u, found %u", LF_ABI_VERSION,
                   h->abi_version);
        return LF_E_ABI;
    }
    if (mapped_size < LF_HEADER_BYTES || h->header_bytes != LF_HEADER_BYTES) {
        lf_set_err(err, errlen, "header size: expected %u bytes, found %u (mapping %zu)",
                   LF_HEADER_BYTES, h->header_bytes, mapped_size);
        return mapped_size < LF_HEADER_BYTES ? LF_E_TOO_SMALL : LF_E_LAYOUT;
    }
    if (h->total_bytes > mapped_size) {
        lf_set_err(err, errlen,
                   "segment size: expected at least %llu bytes (header total_bytes), found %zu",
                   (unsigned long long)h->total_bytes, mapped_size);
        return LF_E_TOO_SMALL;
    }
    int rc = check_params_fields(h->sample_rate_hz, h->channels, h->ring_capacity_frames,
                                 h->frame_mode, h->slot_count, h->max_frame_bytes, err, errlen);
    if (rc != LF_OK) {
        return rc;
    }
    layout_t l = compute_layout(h->channels, h->ring_capacity_frames, h->slot_count,
                                h->max_frame_bytes);
    uint64_t total = h->total_bytes;
    if ((rc = check_region("audio", h->audio_offset, h->audio_bytes, l.audio_offset,
                           l.audio_bytes, total, err, errlen)) != LF_OK ||
        (rc = check_region("descriptor", h->desc_offset, h->desc_bytes, l.desc_offset,
                           l.desc_bytes, total, err, errlen)) != LF_OK ||
        (rc = check_region("gpu slot", h->gpu_offset, h->gpu_bytes, l.gpu_offset, l.gpu_bytes,
                           total, err, errlen)) != LF_OK ||
        (rc = check_region("pixel", h->pixels_offset, h->pixels_bytes, l.pixels_offset,
                           l.pixels_bytes, total, err, errlen)) != LF_OK) {
        return rc;
    }
    if (h->pixel_slot_stride_bytes != l.stride || total != l.total) {
        lf_set_err(err, errlen,
                   "pixel slot stride / total: expected %llu / %llu, found %llu / %llu",
                   (unsigned long long)l.stride, (unsigned long long)l.total,
                   (unsigned long long)h->pixel_slot_stride_bytes, (unsigned long long)total);
        return LF_E_LAYOUT;
    }
    return LF_OK;
}

void lf_counters_read(const void *base, lf_counters_t *out)
{
    lf_header_t *h = (lf_header_t *)base;
    out->audio_write_count = lf_load_acquire(&h->audio_write_count);
    out->audio_read_count = lf_load_acquire(&h->audio_read_count);
    out->audio_overflow_frames = lf_load_acquire(&h->audio_overflow_frames);
    out->underrun_frames = lf_load_acquire(&h->underrun_frames);
    out->underrun_events = lf_load_acquire(&h->underrun_events);
    out->audio_reads = lf_load_acquire(&h->audio_reads);
    out->frames_published = lf_load_acquire(&h->frames_published);
    out->frames_dropped = lf_load_acquire(&h->frames_dropped);
    out->frames_refused = lf_load_acquire(&h->frames_refused);
    out->frames_acquired = lf_load_acquire(&h->frames_acquired);
    out->frames_rejected = lf_load_acquire(&h->frames_rejected);
}

uint32_t lf_state_get(const void *base)
{
    return lf_load_acquire(&((lf_header_t *)base)->state);
}

void lf_state_set(void *base, uint32_t state)
{
    lf_store_release(&LF_HDR(base)->state, state);
}

int lf_endpoint_set(void *base, const char *endpoint)
{
    if (base == NULL || endpoint == NULL) {
        return LF_E_INVALID_ARG;
    }
    size_t n = strlen(endpoint);
    if (n >= LF_ENDPOINT_BYTES) {
        return LF_E_INVALID_ARG;
    }
    lf_header_t *h = LF_HDR(base);
    /* Seqlock writer: odd sequence, fence, bytes, even sequence (release). */
    uint32_t seq = lf_load_relaxed(&h->endpoint_seq);
    lf_store_relaxed(&h->endpoint_seq, seq + 1u);
    atomic_thread_fence(memory_order_release);
    memset(h->control_endpoint, 0, LF_ENDPOINT_BYTES);
    memcpy(h->control_endpoint, endpoint, n);
    lf_store_release(&h->endpoint_seq, seq + 2u);
    return LF_OK;
}

int lf_endpoint_get(const void *base, char *out, size_t outlen)
{
    if (base == NULL || out == NULL || outlen < LF_ENDPOINT_BYTES) {
        return LF_E_INVALID_ARG;
    }
    lf_header_t *h = (lf_header_t *)base;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t before = lf_load_acquire(&h->endpoint_seq);
        if (before & 1u) {
            continue;
        }
        memcpy(out, h->control_endpoint, LF_ENDPOINT_BYTES);
        atomic_thread_fence(memory_order_acquire);
        if (lf_load_relaxed(&h->endpoint_seq) == before) {
            out[LF_ENDPOINT_BYTES - 1] = '\0';
            return LF_OK;
        }
    }
    return LF_E_STATE;
}

void lf_heartbeat(void *base, int role, int64_t now_ns, int64_t pid)
{
    lf_header_t *h = LF_HDR(base);
    if (role == LF_ROLE_HOST) {
        lf_store_relaxed(&h->host_pid, pid);
        lf_store_release(&h->host_heartbeat_ns, now_ns);
    } else {
        lf_store_relaxed(&h->sidecar_pid, pid);
        lf_store_release(&h->sidecar_heartbeat_ns, now_ns);
    }
}

int lf_peer_status(const void *base, int role, int64_t now_ns, int64_t stale_after_ns,
                   lf_peer_t *out)
{
    if (base == NULL || out == NULL || (role != LF_ROLE_HOST && role != LF_ROLE_SIDECAR)) {
        return LF_E_INVALID_ARG;
    }
    lf_header_t *h = (lf_header_t *)base;
    int host = role == LF_ROLE_HOST;
    out->heartbeat_ns = lf_load_acquire(host ? &h->host_heartbeat_ns : &h->sidecar_heartbeat_ns);
    out->pid = lf_load_relaxed(host ? &h->host_pid : &h->sidecar_pid);
    out->reserved0 = 0;
    if (out->pid == 0) {
        out->state = LF_PEER_ABSENT;
        out->age_ns = -1;
        return LF_OK;
    }
    out->age_ns = now_ns - out->heartbeat_ns;
    if (!lf_pid_alive(out->pid)) {
        out->state = LF_PEER_DEAD;
    } else if (out->age_ns > stale_after_ns) {
        out->state = LF_PEER_STALE;
    } else {
        out->state = LF_PEER_ALIVE;
    }
    return LF_OK;
}
