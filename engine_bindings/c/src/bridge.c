/*
 * The bridge to the protocol core (the C files in protocol/native, compiled into this library): the
 * only translation unit of liblivefoley that includes protocol.h. It owns the mapping,
 * turns protocol codes (LF_E_*) into library codes (LFI_ERR_* == LF_ERR_*), and copies
 * the protocol's "what: expected X, found Y" messages into lf_last_error().
 *
 * The protocol's own convenience functions lf_session_create/lf_session_open share their
 * names with this library's public API, so the build renames them for every protocol
 * translation unit and this one (-Dlf_session_create=lfp_session_create, and _open); see
 * engine_bindings/CMakeLists.txt.
 */
#include "livefoley/protocol.h"
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lfi_segment {
    lf_shm_t shm;
    uint32_t channels;       /* cached: immutable after init, read by the audio thread */
    uint32_t sample_rate_hz;
};

#define LFI_ERRLEN 320

static int map_code(int rc, int attaching)
{
    switch (rc) {
    case LF_OK: return LFI_OK;
    case LF_E_INVALID_ARG: return LFI_ERR_INVALID_ARG;
    case LF_E_NAME: return LFI_ERR_INVALID_ARG;
    case LF_E_NOT_FOUND: return LFI_ERR_NOT_FOUND;
    case LF_E_EXISTS: return LFI_ERR_EXISTS;
    case LF_E_OS: return LFI_ERR_SYSTEM;
    case LF_E_BAD_MAGIC: return LFI_ERR_BAD_MAGIC;
    case LF_E_ABI: return LFI_ERR_ABI_MISMATCH;
    case LF_E_TOO_SMALL: return LFI_ERR_BAD_LAYOUT;
    case LF_E_LAYOUT: return LFI_ERR_BAD_LAYOUT;
    case LF_E_PARAMS: return attaching ? LFI_ERR_UNSUPPORTED : LFI_ERR_INVALID_ARG;
    case LF_E_FULL: return LFI_ERR_WOULD_BLOCK;
    case LF_E_EMPTY: return LFI_ERR_WOULD_BLOCK;
    case LF_E_DESCRIPTOR: return LFI_ERR_INVALID_ARG;
    case LF_E_UNSUPPORTED: return LFI_ERR_UNSUPPORTED;
    default: return LFI_ERR_PROTOCOL;
    }
}

static int fail_proto(int rc, int attaching, const char *where, const char *detail)
{
    return lfi_fail(map_code(rc, attaching), "%s: %s (protocol: %s)", where,
                    detail && *detail ? detail : "no detail", lf_strerror(rc));
}

uint32_t lfi_protocol_version(void)
{
    return LF_ABI_VERSION;
}

uint32_t lfi_pixel_bytes(uint32_t pixel_format)
{
    return (uint32_t)lf_pixel_bytes_per_pixel(pixel_format);
}

static lfi_segment_t *wrap(const lf_shm_t *shm)
{
    const lf_header_t *h = (const lf_header_t *)shm->base;
    lfi_segment_t *seg = (lfi_segment_t *)calloc(1, sizeof *seg);
    if (!seg) return NULL;
    seg->shm = *shm;
    seg->channels = h->channels;
    seg->sample_rate_hz = h->sample_rate_hz;
    return seg;
}

int lfi_seg_create(const char *name, const lfi_seg_params_t *params, lfi_segment_t **out)
{
    lf_params_t p;
    lf_shm_t shm;
    char err[LFI_ERRLEN] = "";
    int rc;
    memset(&p, 0, sizeof p);
    p.sample_rate_hz = params->sample_rate_hz;
    p.channels = params->channels;
    p.ring_capacity_frames = params->ring_capacity_frames;
    p.frame_mode = params->frame_mode;
    p.slot_count = params->slot_count;
    p.max_frame_bytes = params->max_frame_bytes;
    if ((rc = lf_params_check(&p, err, sizeof err)) != LF_OK)
        return fail_proto(rc, 0, name, err);
    memset(&shm, 0, sizeof shm);
    if ((rc = lf_session_create(&shm, name, &p)) != LF_OK) {
        snprintf(err, sizeof err, "creating the session segment failed");
        if (rc == LF_E_EXISTS)
            snprintf(err, sizeof err, "expected no segment of that name, found one "
                     "(another engine, or a crashed one: remove /dev/shm/%s)", name);
        return fail_proto(rc, 0, name, err);
    }
    *out = wrap(&shm);
    if (!*out) {
        lf_shm_close(&shm);
        lf_shm_unlink(name);
        return lfi_fail(LFI_ERR_NO_MEMORY, "allocating the segment handle");
    }
    return LFI_OK;
}

int lfi_seg_attach(const char *name, lfi_segment_t **out)
{
    lf_shm_t shm;
    char err[LFI_ERRLEN] = "";
    int rc;
    memset(&shm, 0, sizeof shm);
    if ((rc = lf_session_open(&shm, name, err, sizeof err)) != LF_OK) {
        if (rc == LF_E_NOT_FOUND)
            snprintf(err, sizeof err, "expected a session segment named %s, found none "
                     "(is the engine running?)", name);
        return fail_proto(rc, 1, name, err);
    }
    *out = wrap(&shm);
    if (!*out) {
        lf_shm_close(&shm);
        return lfi_fail(LFI_ERR_NO_MEMORY, "allocating the segment handle");
    }
    return LFI_OK;
}

void lfi_seg_close(lfi_segment_t *seg, int unlink_segment)
{
    char name[LF_SHM_NAME_BYTES];
    if (!seg) return;
    memcpy(name, seg->shm.name, sizeof name);
    name[sizeof name - 1] = '\0';
    lf_shm_close(&seg->shm);
    if (unlink_segment) lf_shm_unlink(name);
    free(seg);
}

void lfi_seg_mark_closed(lfi_segment_t *seg)
{
    lf_state_set(seg->shm.base, LF_STATE_CLOSED);
}

uint32_t lfi_seg_channels(const lfi_segment_t *seg)
{
    return seg->channels;
}

uint32_t lfi_seg_sample_rate_hz(const lfi_segment_t *seg)
{
    return seg->sample_rate_hz;
}

uint64_t lfi_seg_slot_bytes(const lfi_segment_t *seg)
{
    return ((const lf_header_t *)seg->shm.base)->max_frame_bytes;
}

uint32_t lfi_seg_read_audio(lfi_segment_t *seg, float *out, uint32_t frames)
{
    return lf_audio_read(seg->shm.base, out, frames);
}

void lfi_seg_host_heartbeat(lfi_segment_t *seg)
{
    lf_heartbeat(seg->shm.base, LF_ROLE_HOST, lf_now_ns(), lf_current_pid());
}

void lfi_seg_counters(const lfi_segment_t *seg, lfi_seg_counters_t *out)
{
    const lf_header_t *h = (const lf_header_t *)seg->shm.base;
    lf_counters_t c;
    lf_counters_read(seg->shm.base, &c);
    memset(out, 0, sizeof *out);
    out->audio_frames_written = c.audio_write_count;
    out->audio_frames_read = c.audio_read_count;
    out->underrun_frames = c.underrun_frames;
    out->underrun_events = c.underrun_events;
    out->frames_published = c.frames_published;
    out->frames_dropped = c.frames_dropped;
    out->sample_rate_hz = h->sample_rate_hz;
    out->channels = h->channels;
    out->ring_capacity_frames = h->ring_capacity_frames;
    out->frame_mode = h->frame_mode;
}

void lfi_seg_sidecar(const lfi_segment_t *seg, int64_t max_age_ns, lfi_seg_peer_t *out)
{
    lf_peer_t p;
    memset(out, 0, sizeof *out);
    out->age_ns = -1;
    if (lf_peer_status(seg->shm.base, LF_ROLE_SIDECAR, lf_now_ns(), max_age_ns, &p) != LF_OK)
        return;
    out->ever_beat = p.state != LF_PEER_ABSENT;
    out->alive = p.state == LF_PEER_ALIVE;
    out->pid = p.pid;
    out->age_ns = p.age_ns;
}

static void to_desc(const lfi_frame_desc_t *in, uint32_t location, lf_frame_desc_t *d)
{
    memset(d, 0, sizeof *d);
    d->frame_index = in->frame_index;
    d->capture_ns = (int64_t)in->capture_ns;
    d->width = in->width;
    d->height = in->height;
    d->row_pitch_bytes = in->row_pitch_bytes;
    d->pixel_format = in->pixel_format;
    d->location = location;
    d->yaw_rad = in->yaw_rad;
    d->pitch_rad = in->pitch_rad;
    d->roll_rad = in->roll_rad;
}

static int check_fits(const lfi_segment_t *seg, const lfi_frame_desc_t *d)
{
    uint64_t need = (uint64_t)d->row_pitch_bytes * d->height;
    uint64_t cap = lfi_seg_slot_bytes(seg);
    if (need > cap)
        return lfi_fail(LFI_ERR_FRAME_TOO_LARGE, "frame %ux%u needs %llu bytes per slot, "
                        "expected at most %llu (the session's max_frame_bytes)", d->width,
                        d->height, (unsigned long long)need, (unsigned long long)cap);
    return LFI_OK;
}

int lfi_seg_publish_host(lfi_segment_t *seg, const void *pixels, uint32_t src_pitch,
                         const lfi_frame_desc_t *desc)
{
    lf_frame_desc_t d;
    char err[LFI_ERRLEN] = "";
    int rc;
    if ((rc = check_fits(seg, desc)) != LFI_OK) return rc;
    to_desc(desc, LF_LOCATION_HOST, &d);
    rc = lf_frame_publish_host(seg->shm.base, &d, pixels, src_pitch, err, sizeof err);
    if (rc == LF_E_FULL)
        return lfi_fail(LFI_ERR_WOULD_BLOCK, "fifo: expected a free slot, found all %u "
                        "queued (the sidecar is behind; retry)",
                        ((const lf_header_t *)seg->shm.base)->slot_count);
    if (rc != LF_OK) return fail_proto(rc, 0, "publishing a host frame", err);
    return LFI_OK;
}

uint32_t lfi_seg_gpu_slot_count(const lfi_segment_t *seg)
{
    return ((const lf_header_t *)seg->shm.base)->slot_count;
}

int lfi_seg_gpu_export(lfi_segment_t *seg, uint32_t slot, const lfi_gpu_export_t *exp)
{
    lf_gpu_slot_t g;
    int rc;
    memset(&g, 0, sizeof g);
    g.kind = LF_GPU_CUDA_IPC;
    g.byte_size = exp->size_bytes;
    memcpy(g.cuda_mem_handle, exp->mem_handle, sizeof g.cuda_mem_handle);
    memcpy(g.cuda_event_handle, exp->event_handle, sizeof g.cuda_event_handle);
    memcpy(g.device_uuid, exp->device_uuid, sizeof g.device_uuid);
    if ((rc = lf_gpu_slot_register(seg->shm.base, slot, &g)) != LF_OK)
        return fail_proto(rc, 0, "registering a GPU slot", "");
    return LFI_OK;
}

int lfi_seg_gpu_acquire(lfi_segment_t *seg, uint32_t *slot)
{
    int rc = lf_frame_begin(seg->shm.base, slot);
    if (rc == LF_E_FULL)
        return lfi_fail(LFI_ERR_WOULD_BLOCK, "fifo: expected a free GPU slot, found all %u "
                        "queued (the sidecar is behind; retry)",
                        ((const lf_header_t *)seg->shm.base)->slot_count);
    if (rc != LF_OK) return fail_proto(rc, 0, "acquiring a GPU slot", "");
    return LFI_OK;
}

int lfi_seg_gpu_publish(lfi_segment_t *seg, uint32_t slot, const lfi_frame_desc_t *desc)
{
    lf_frame_desc_t d;
    char err[LFI_ERRLEN] = "";
    int rc;
    to_desc(desc, LF_LOCATION_GPU, &d);
    if ((rc = lf_frame_commit(seg->shm.base, slot, &d, err, sizeof err)) != LF_OK)
        return fail_proto(rc, 0, "publishing a GPU frame", err);
    return LFI_OK;
}
