/*
 * The bridge between liblivefoley and the protocol core: the only functions that touch a
 * mapped segment. Implemented in bridge.c, the one translation unit that includes
 * protocol/include/livefoley/protocol.h. This header includes neither protocol.h nor
 * livefoley.h (their constant names overlap), so it speaks plain integers; internal.h
 * pins the LFI_* codes to the public LF_ERR_* codes with a static assertion.
 */
#ifndef LF_SEG_API_H
#define LF_SEG_API_H

#include <stddef.h>
#include <stdint.h>

#define LFI_OK 0
#define LFI_ERR_INVALID_ARG (-1)
#define LFI_ERR_NOT_FOUND (-2)
#define LFI_ERR_EXISTS (-3)
#define LFI_ERR_BAD_MAGIC (-4)
#define LFI_ERR_ABI_MISMATCH (-5)
#define LFI_ERR_BAD_LAYOUT (-6)
#define LFI_ERR_UNSUPPORTED (-7)
#define LFI_ERR_FRAME_TOO_LARGE (-8)
#define LFI_ERR_WOULD_BLOCK (-9)
#define LFI_ERR_NO_MEMORY (-10)
#define LFI_ERR_SYSTEM (-11)
#define LFI_ERR_PEER_DEAD (-12)
#define LFI_ERR_PROTOCOL (-40)

/* ---- errors.c ---- */
int lfi_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void lfi_clear_error(void);

/* ---- process.c ---- */
typedef struct lfi_process {
    int64_t pid;
    void *handle; /* Windows process handle */
    int running;
    int exit_code;
} lfi_process_t;

uint64_t lfi_monotonic_ns(void);
void lfi_sleep_ms(uint32_t ms);
int lfi_process_spawn(const char *const *argv, lfi_process_t *out);
int lfi_process_poll(lfi_process_t *p, int *exit_code); /* 1 exited, 0 running */
void lfi_process_terminate(lfi_process_t *p);
void lfi_process_kill(lfi_process_t *p);
int lfi_process_stop(lfi_process_t *p, uint32_t timeout_ms);
int lfi_pid_alive(int64_t pid);

/* ---- bridge.c ---- */
typedef struct lfi_segment lfi_segment_t;

typedef struct lfi_seg_params {
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames;
    uint32_t frame_mode;
    uint32_t slot_count;
    uint64_t max_frame_bytes;
} lfi_seg_params_t;

typedef struct lfi_seg_counters {
    uint64_t audio_frames_written;
    uint64_t audio_frames_read;
    uint64_t underrun_frames;
    uint64_t underrun_events;
    uint64_t frames_published;
    uint64_t frames_dropped;
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames;
    uint32_t frame_mode;
} lfi_seg_counters_t;

/* The sidecar as the header sees it. */
typedef struct lfi_seg_peer {
    int alive;      /* heartbeat within the limit and pid alive */
    int ever_beat;  /* a heartbeat was ever written */
    int64_t pid;
    int64_t age_ns; /* -1 when it never beat */
} lfi_seg_peer_t;

/* A description of one GPU slot the CUDA publisher exported. */
typedef struct lfi_gpu_export {
    const void *mem_handle;   /* 64 bytes: CUipcMemHandle */
    const void *event_handle; /* 64 bytes: CUipcEventHandle */
    const void *device_uuid;  /* 16 bytes: CUuuid */
    uint64_t size_bytes;
} lfi_gpu_export_t;

/* A frame descriptor in public units. */
typedef struct lfi_frame_desc {
    uint64_t frame_index;
    uint64_t capture_ns;
    uint32_t width;
    uint32_t height;
    uint32_t row_pitch_bytes; /* of the slot (destination) */
    uint32_t pixel_format;    /* LF_PIXEL_* */
    float yaw_rad, pitch_rad, roll_rad;
} lfi_frame_desc_t;

uint32_t lfi_protocol_version(void);
int lfi_seg_create(const char *name, const lfi_seg_params_t *params, lfi_segment_t **out);
int lfi_seg_attach(const char *name, lfi_segment_t **out);
void lfi_seg_close(lfi_segment_t *seg, int unlink_segment);
void lfi_seg_mark_closed(lfi_segment_t *seg);
uint32_t lfi_seg_channels(const lfi_segment_t *seg);
uint32_t lfi_seg_sample_rate_hz(const lfi_segment_t *seg);
uint64_t lfi_seg_slot_bytes(const lfi_segment_t *seg);
/* Real-time safe: returns frames of real audio, fills the rest with silence. */
uint32_t lfi_seg_read_audio(lfi_segment_t *seg, float *out, uint32_t frames);
void lfi_seg_host_heartbeat(lfi_segment_t *seg);
void lfi_seg_counters(const lfi_segment_t *seg, lfi_seg_counters_t *out);
void lfi_seg_sidecar(const lfi_segment_t *seg, int64_t max_age_ns, lfi_seg_peer_t *out);
int lfi_seg_publish_host(lfi_segment_t *seg, const void *pixels, uint32_t src_pitch,
                         const lfi_frame_desc_t *desc);
/* GPU slots: count, export each once, then per frame acquire a slot (LFI_ERR_WOULD_BLOCK
 * if none is free), fill it on the GPU, publish it. */
uint32_t lfi_seg_gpu_slot_count(const lfi_segment_t *seg);
int lfi_seg_gpu_export(lfi_segment_t *seg, uint32_t slot, const lfi_gpu_export_t *exp);
int lfi_seg_gpu_acquire(lfi_segment_t *seg, uint32_t *slot);
int lfi_seg_gpu_publish(lfi_segment_t *seg, uint32_t slot, const lfi_frame_desc_t *desc);
uint32_t lfi_pixel_bytes(uint32_t pixel_format); /* 0 if unknown */

#endif
