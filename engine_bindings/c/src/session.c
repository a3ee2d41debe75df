/*
 * The public session API: create/attach/detach/destroy, the sidecar (spawn, await,
 * check, stop), host-frame publishing, stats, and the real-time audio reader.
 *
 * Thread-safety: lifecycle calls are not concurrent with anything else on the same
 * handle; one thread publishes frames; exactly one thread reads audio; stats and checks
 * may run on any thread.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

LF_API uint32_t lf_abi_version(void)
{
    return LF_LIB_ABI_VERSION;
}

LF_API uint32_t lf_protocol_version(void)
{
    return lfi_protocol_version();
}

LF_API void lf_session_config_init(lf_session_config_t *config)
{
    if (!config) return;
    memset(config, 0, sizeof *config);
    config->struct_size = (uint32_t)sizeof *config;
    config->sample_rate_hz = 48000;
    config->channels = 2;
    config->ring_capacity_frames = 16384;
    config->frame_mode = LF_FRAME_MODE_LATEST;
    config->frame_slots = 3;
    config->max_frame_width = 1920;
    config->max_frame_height = 1080;
    config->max_bytes_per_pixel = 4;
}

static int check_name(const char *name)
{
    size_t i, n;
    if (!name) return lfi_fail(LF_ERR_INVALID_ARG, "session name is NULL");
    n = strlen(name);
    if (n == 0 || n > 63)
        return lfi_fail(LF_ERR_INVALID_ARG,
                        "session name length: expected 1..63 bytes, found %u", (unsigned)n);
    for (i = 0; i < n; ++i) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok)
            return lfi_fail(LF_ERR_INVALID_ARG,
                            "session name \"%s\": expected letters, digits, '-' or '_', "
                            "found byte 0x%02x at %u", name, (unsigned)(unsigned char)c, (unsigned)i);
    }
    return LF_OK;
}

static int new_handle(const char *name, uint32_t role, lfi_segment_t *seg,
                      lf_session_t **out)
{
    lf_session_t *s = (lf_session_t *)calloc(1, sizeof *s);
    if (!s) {
        lfi_seg_close(seg, role == LF_ROLE_OWNER);
        return lfi_fail(LF_ERR_NO_MEMORY, "allocating the session handle");
    }
    strncpy(s->name, name, sizeof s->name - 1);
    s->role = role;
    s->seg = seg;
    *out = s;
    return LF_OK;
}

LF_API int lf_session_create(const char *name, const lf_session_config_t *config,
                             lf_session_t **out_session)
{
    lf_session_config_t cfg;
    lfi_seg_params_t params;
    lfi_segment_t *seg = NULL;
    int rc;
    if (!out_session) return lfi_fail(LF_ERR_INVALID_ARG, "out_session is NULL");
    *out_session = NULL;
    if ((rc = check_name(name)) != LF_OK) return rc;
    lf_session_config_init(&cfg);
    if (config) {
        if (config->struct_size < offsetof(lf_session_config_t, reserved))
            return lfi_fail(LF_ERR_INVALID_ARG,
                            "config->struct_size: expected >= %u, found %u "
                            "(call lf_session_config_init first)",
                            (unsigned)offsetof(lf_session_config_t, reserved), config->struct_size);
        memcpy(&cfg, config, offsetof(lf_session_config_t, reserved));
        cfg.struct_size = (uint32_t)sizeof cfg;
    }
    if (cfg.frame_mode != LF_FRAME_MODE_LATEST && cfg.frame_mode != LF_FRAME_MODE_FIFO)
        return lfi_fail(LF_ERR_INVALID_ARG,
                        "frame_mode: expected LF_FRAME_MODE_LATEST (0) or FIFO (1), found %u",
                        cfg.frame_mode);
    if (cfg.max_bytes_per_pixel == 0 || cfg.max_bytes_per_pixel > 4)
        return lfi_fail(LF_ERR_INVALID_ARG, "max_bytes_per_pixel: expected 1..4, found %u",
                        cfg.max_bytes_per_pixel);
    params.sample_rate_hz = cfg.sample_rate_hz;
    params.channels = cfg.channels;
    params.ring_capacity_frames = cfg.ring_capacity_frames;
    params.frame_mode = cfg.frame_mode;
    params.slot_count = cfg.frame_slots;
    params.max_frame_bytes = (uint64_t)cfg.max_frame_width * cfg.max_frame_height *
                             cfg.max_bytes_per_pixel;
    if ((rc = lfi_seg_create(name, &params, &seg)) != LF_OK) return rc;
    lfi_seg_host_heartbeat(seg);
    return new_handle(name, LF_ROLE_OWNER, seg, out_session);
}

LF_API int lf_session_attach(const char *name, lf_session_t **out_session)
{
    lfi_segment_t *seg = NULL;
    int rc;
    if (!out_session) return lfi_fail(LF_ERR_INVALID_ARG, "out_session is NULL");
    *out_session = NULL;
    if ((rc = check_name(name)) != LF_OK) return rc;
    if ((rc = lfi_seg_attach(name, &seg)) != LF_OK) return rc;
    return new_handle(name, LF_ROLE_ATTACHED, seg, out_session);
}

LF_API int lf_session_detach(lf_session_t *session)
{
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    lfi_cuda_release(session);
    lfi_seg_close(session->seg, 0);
    free(session);
    return LF_OK;
}

LF_API int lf_session_destroy(lf_session_t *session, uint32_t timeout_ms)
{
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    if (session->role != LF_ROLE_OWNER) return lf_session_detach(session);
    lfi_seg_mark_closed(session->seg);
    lfi_process_stop(&session->sidecar, timeout_ms);
    lfi_cuda_release(session);
    lfi_seg_close(session->seg, 1);
    free(session);
    return LF_OK;
}

LF_API const char *lf_session_name(const lf_session_t *session)
{
    return session ? session->name : "";
}

LF_API uint32_t lf_session_channels(const lf_session_t *session)
{
    return session ? lfi_seg_channels(session->seg) : 0u;
}

LF_API uint32_t lf_session_sample_rate_hz(const lf_session_t *session)
{
    return session ? lfi_seg_sample_rate_hz(session->seg) : 0u;
}

LF_API int lf_session_heartbeat(lf_session_t *session)
{
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    lfi_seg_host_heartbeat(session->seg);
    return LF_OK;
}

#define LF_HEARTBEAT_STALE_NS 2000000000ll /* the sidecar beats every few ms; 2 s = dead */

static int64_t sidecar_pid(const lf_session_t *s, const lfi_seg_peer_t *p)
{
    if (p->pid > 0) return p->pid;
    return s->sidecar.running ? s->sidecar.pid : 0;
}

LF_API int lf_session_stats(const lf_session_t *session, lf_stats_t *out)
{
    lfi_seg_counters_t c;
    lfi_seg_peer_t peer;
    lf_stats_t st;
    size_t n;
    if (!session || !out) return lfi_fail(LF_ERR_INVALID_ARG, "session or out is NULL");
    n = out->struct_size ? out->struct_size : sizeof st;
    if (n > sizeof st) n = sizeof st;
    memset(&st, 0, sizeof st);
    lfi_seg_counters(session->seg, &c);
    lfi_seg_sidecar(session->seg, LF_HEARTBEAT_STALE_NS, &peer);
    st.struct_size = (uint32_t)n;
    st.role = session->role;
    st.sample_rate_hz = c.sample_rate_hz;
    st.channels = c.channels;
    st.ring_capacity_frames = c.ring_capacity_frames;
    st.frame_mode = c.frame_mode;
    st.audio_frames_written = c.audio_frames_written;
    st.audio_frames_read = c.audio_frames_read;
    st.audio_fill_frames = c.audio_frames_written > c.audio_frames_read
                               ? c.audio_frames_written - c.audio_frames_read : 0;
    st.underrun_frames = c.underrun_frames;
    st.underrun_events = c.underrun_events;
    st.frames_published = c.frames_published;
    st.frames_dropped = c.frames_dropped;
    st.sidecar_heartbeat_age_ns = peer.age_ns;
    st.sidecar_pid = sidecar_pid(session, &peer);
    st.sidecar_alive = (uint32_t)peer.alive;
    memcpy(out, &st, n);
    return LF_OK;
}

/* ---- sidecar ---------------------------------------------------------------------- */

LF_API int lf_sidecar_spawn(lf_session_t *session, const char *executable, const char *model)
{
    const char *argv[7];
    int i = 0, code = 0;
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    if (session->role != LF_ROLE_OWNER)
        return lfi_fail(LF_ERR_WRONG_ROLE, "session %s: expected the owner to spawn the "
                        "sidecar, found an attached handle", session->name);
    if (session->sidecar.running && !lfi_process_poll(&session->sidecar, &code))
        return lfi_fail(LF_ERR_WRONG_ROLE, "session %s: a sidecar (pid %lld) is already "
                        "running", session->name, (long long)session->sidecar.pid);
    argv[i++] = (executable && *executable) ? executable : "livefoley";
    argv[i++] = "serve";
    argv[i++] = "--session";
    argv[i++] = session->name;
    if (model && *model) {
        argv[i++] = "--model";
        argv[i++] = model;
    }
    argv[i] = NULL;
    memset(&session->sidecar, 0, sizeof session->sidecar);
    return lfi_process_spawn(argv, &session->sidecar);
}

LF_API int lf_sidecar_check(const lf_session_t *session, uint32_t max_age_ms)
{
    lfi_seg_peer_t p;
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    lfi_seg_sidecar(session->seg, (int64_t)max_age_ms * 1000000, &p);
    if (!p.ever_beat)
        return lfi_fail(LF_ERR_PEER_DEAD, "session %s: expected a sidecar heartbeat, found "
                        "none yet", session->name);
    if (!p.alive)
        return lfi_fail(LF_ERR_PEER_DEAD, "session %s: expected a sidecar heartbeat within "
                        "%u ms from a live process, found one %lld ms old from pid %lld",
                        session->name, max_age_ms, (long long)(p.age_ns / 1000000),
                        (long long)p.pid);
    return LF_OK;
}

LF_API int lf_sidecar_await(lf_session_t *session, uint32_t timeout_ms)
{
    uint64_t deadline;
    int code = 0;
    lfi_seg_peer_t p;
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    deadline = lfi_monotonic_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        lfi_seg_sidecar(session->seg, LF_HEARTBEAT_STALE_NS, &p);
        if (p.alive) {
            lfi_clear_error();
            return LF_OK;
        }
        if (session->sidecar.running && lfi_process_poll(&session->sidecar, &code))
            return lfi_fail(LF_ERR_SIDECAR_EXITED, "session %s: the sidecar (pid %lld) "
                            "exited with status %d before its first heartbeat (expected it "
                            "to attach and beat)", session->name,
                            (long long)session->sidecar.pid, code);
        if (lfi_monotonic_ns() >= deadline)
            return lfi_fail(LF_ERR_TIMEOUT, "session %s: expected a sidecar heartbeat "
                            "within %u ms, found none", session->name, timeout_ms);
        lfi_seg_host_heartbeat(session->seg);
        lfi_sleep_ms(2);
    }
}

LF_API int lf_sidecar_stop(lf_session_t *session, uint32_t timeout_ms)
{
    if (!session) return lfi_fail(LF_ERR_INVALID_ARG, "session is NULL");
    return lfi_process_stop(&session->sidecar, timeout_ms);
}

/* ---- frames and audio --------------------------------------------------------------- */

int lfi_check_frame(const lf_session_t *s, uint32_t width, uint32_t height,
                    uint32_t *row_pitch_bytes, uint32_t pixel_format)
{
    uint32_t bpp = lfi_pixel_bytes(pixel_format);
    if (!bpp)
        return lfi_fail(LF_ERR_UNSUPPORTED, "session %s: pixel format expected RGBA8 (1), "
                        "BGRA8 (2) or RGB8 (3), found %u", s->name, pixel_format);
    if (width == 0 || height == 0)
        return lfi_fail(LF_ERR_INVALID_ARG, "session %s: frame size expected > 0, found "
                        "%ux%u", s->name, width, height);
    if (*row_pitch_bytes == 0) *row_pitch_bytes = width * bpp;
    if (*row_pitch_bytes < width * bpp)
        return lfi_fail(LF_ERR_INVALID_ARG, "session %s: row pitch expected >= %u bytes "
                        "(%u px x %u B), found %u", s->name, width * bpp, width, bpp,
                        *row_pitch_bytes);
    return LF_OK;
}

LF_API int lf_publish_frame_host(lf_session_t *session, const void *pixels,
                                 uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                                 uint32_t pixel_format, uint64_t frame_index,
                                 uint64_t capture_ns, float yaw_rad, float pitch_rad,
                                 float roll_rad)
{
    lfi_frame_desc_t d;
    int rc;
    if (!session || !pixels) return lfi_fail(LF_ERR_INVALID_ARG, "session or pixels is NULL");
    if ((rc = lfi_check_frame(session, width, height, &row_pitch_bytes, pixel_format)) != LF_OK)
        return rc;
    memset(&d, 0, sizeof d);
    d.frame_index = frame_index;
    d.capture_ns = capture_ns;
    d.width = width;
    d.height = height;
    d.row_pitch_bytes = width * lfi_pixel_bytes(pixel_format);
    d.pixel_format = pixel_format;
    d.yaw_rad = yaw_rad;
    d.pitch_rad = pitch_rad;
    d.roll_rad = roll_rad;
    rc = lfi_seg_publish_host(session->seg, pixels, row_pitch_bytes, &d);
    if (rc == LF_OK) {
        session->frames_published++;
        lfi_seg_host_heartbeat(session->seg);
    }
    return rc;
}

LF_API int32_t lf_read_audio(lf_session_t *session, float *out, uint32_t frames)
{
    if (!session || !out || frames > 0x7fffffffu) return LF_ERR_INVALID_ARG;
    return (int32_t)lfi_seg_read_audio(session->seg, out, frames);
}
