/*
 * The test side of a session: plays the sidecar (and a raw attacker) through the protocol
 * core directly, so the C tests can check liblivefoley against the real ring and mailbox.
 * Only peer.c includes protocol.h; tests include this header and livefoley.h.
 */
#ifndef LF_TEST_PEER_H
#define LF_TEST_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct tp_peer tp_peer_t;

typedef struct tp_frame {
    uint64_t frame_index;
    int64_t capture_ns;
    uint32_t width, height, row_pitch_bytes, pixel_format, location, slot_index;
    float yaw_rad, pitch_rad, roll_rad;
    const uint8_t *pixels; /* host frames only */
} tp_frame_t;

typedef struct tp_gpu_slot {
    uint32_t kind; /* 1 = CUDA IPC */
    uint64_t byte_size;
    uint8_t mem_handle[64];
    uint8_t event_handle[64];
    uint8_t device_uuid[16];
} tp_gpu_slot_t;

enum { TP_CORRUPT_MAGIC = 1, TP_CORRUPT_ABI = 2, TP_CORRUPT_TRUNCATE = 3,
       TP_CORRUPT_AUDIO_OFFSET = 4 };

int tp_open(const char *name, tp_peer_t **out); /* returns a protocol code */
void tp_close(tp_peer_t *p);
uint32_t tp_write_audio(tp_peer_t *p, const float *in, uint32_t frames);
uint64_t tp_audio_fill(tp_peer_t *p);
void tp_sidecar_beat(tp_peer_t *p, int64_t pid);
uint32_t tp_state(tp_peer_t *p);
uint32_t tp_state_closed(void);
int tp_acquire_frame(tp_peer_t *p, tp_frame_t *out); /* 0 ok, negative protocol code */
int tp_release_frame(tp_peer_t *p, uint32_t slot);
int tp_gpu_slot(tp_peer_t *p, uint32_t slot, tp_gpu_slot_t *out);
uint32_t tp_location_gpu(void);
/* Damage a live segment by name (for the validation tests). */
int tp_corrupt(const char *name, int what);
int tp_segment_exists(const char *name);
int64_t tp_now_ns(void);
void tp_sleep_ms(long ms);

#endif
