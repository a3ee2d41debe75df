"""cffi build script (API mode) for `livefoley.protocol._native`.

It compiles protocol's C core (segment, audio ring, frame slots, shared memory) into one
Python extension, so Python runs the very code an engine links. setup.py names
`protocol/native/build.py:ffibuilder`; there is no other build step.

This file is build-time only: nothing imports it at run time.
"""

import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.path.join(os.path.dirname(HERE), "include")
SOURCES = ["segment.c", "audio.c", "frames.c", "platform.c", "selftest.c"]

CDEF = """
#define LF_MAGIC ...
#define LF_ABI_VERSION ...
#define LF_HEADER_BYTES ...
#define LF_ENDPOINT_BYTES ...
#define LF_SHM_NAME_BYTES ...
#define LF_PAGE_BYTES ...
#define LF_MAX_FRAME_DIM ...
#define LF_OK ...
#define LF_E_INVALID_ARG ...
#define LF_E_NOT_FOUND ...
#define LF_E_EXISTS ...
#define LF_E_OS ...
#define LF_E_BAD_MAGIC ...
#define LF_E_ABI ...
#define LF_E_TOO_SMALL ...
#define LF_E_LAYOUT ...
#define LF_E_PARAMS ...
#define LF_E_EMPTY ...
#define LF_E_FULL ...
#define LF_E_DESCRIPTOR ...
#define LF_E_STATE ...
#define LF_E_GPU_SLOT ...
#define LF_E_NAME ...
#define LF_E_UNSUPPORTED ...

typedef struct lf_frame_desc {
    uint64_t frame_index;
    int64_t capture_ns;
    uint32_t width;
    uint32_t height;
    uint32_t row_pitch_bytes;
    uint32_t pixel_format;
    uint32_t location;
    uint32_t slot_index;
    float yaw_rad;
    float pitch_rad;
    float roll_rad;
    uint32_t projection;
    uint64_t fence_value;
} lf_frame_desc_t;

typedef struct lf_gpu_slot {
    uint32_t kind;
    uint32_t reserved0;
    uint64_t byte_size;
    uint8_t cuda_mem_handle[64];
    uint8_t cuda_event_handle[64];
    uint64_t nt_handle;
    uint64_t fence_value;
    uint8_t device_uuid[16];
    uint8_t device_luid[8];
    uint8_t pad[72];
} lf_gpu_slot_t;

typedef struct lf_params {
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames;
    uint32_t frame_mode;
    uint32_t slot_count;
    uint32_t reserved0;
    uint64_t max_frame_bytes;
} lf_params_t;

typedef struct lf_counters {
    uint64_t audio_write_count;
    uint64_t audio_read_count;
    uint64_t audio_overflow_frames;
    uint64_t underrun_frames;
    uint64_t underrun_events;
    uint64_t audio_reads;
    uint64_t frames_published;
    uint64_t frames_dropped;
    uint64_t frames_refused;
    uint64_t frames_acquired;
    uint64_t frames_rejected;
} lf_counters_t;

typedef struct lf_peer {
    int32_t state;
    int32_t reserved0;
    int64_t pid;
    int64_t heartbeat_ns;
    int64_t age_ns;
} lf_peer_t;

typedef struct lf_shm {
    void *base;
    size_t size;
    int64_t fd;
    int32_t owner;
    int32_t reserved0;
    char name[128];
} lf_shm_t;

const char *lf_strerror(int code);
int lf_params_check(const lf_params_t *params, char *err, size_t errlen);
size_t lf_segment_size(const lf_params_t *params);
int lf_segment_init(void *base, size_t size, const lf_params_t *params);
int lf_segment_validate(const void *base, size_t mapped_size, char *err, size_t errlen);
void lf_counters_read(const void *base, lf_counters_t *out);
uint32_t lf_state_get(const void *base);
void lf_state_set(void *base, uint32_t state);
int lf_endpoint_set(void *base, const char *endpoint);
int lf_endpoint_get(const void *base, char *out, size_t outlen);
void lf_heartbeat(void *base, int role, int64_t now_ns, int64_t pid);
int lf_peer_status(const void *base, int role, int64_t now_ns, int64_t stale_after_ns,
                   lf_peer_t *out);

uint32_t lf_audio_write(void *base, const float *in, uint32_t frames);
uint32_t lf_audio_read(void *base, float *out, uint32_t frames);
uint64_t lf_audio_fill_frames(const void *base);
uint64_t lf_audio_free_frames(const void *base);
void lf_audio_reset_position(void *base, uint64_t position);

typedef struct lf_audio_view {
    void *base;
    float *data;
    uint64_t capacity_frames;
    uint32_t channels;
    uint32_t reserved0;
} lf_audio_view_t;
int lf_audio_view_init(lf_audio_view_t *view, void *base, size_t mapped_size, char *err,
                       size_t errlen);
uint32_t lf_audio_view_write(const lf_audio_view_t *view, const float *in, uint32_t frames);
uint32_t lf_audio_view_read(const lf_audio_view_t *view, float *out, uint32_t frames);

size_t lf_pixel_bytes_per_pixel(uint32_t pixel_format);
int lf_frame_desc_check(const void *base, const lf_frame_desc_t *desc, char *err,
                        size_t errlen);
uint8_t *lf_frame_slot_pixels(void *base, uint32_t slot_index);
int lf_frame_begin(void *base, uint32_t *slot_index);
void lf_frame_note_refused(void *base);
int lf_frame_commit(void *base, uint32_t slot_index, const lf_frame_desc_t *desc,
                    char *err, size_t errlen);
int lf_frame_publish_host(void *base, const lf_frame_desc_t *desc, const void *pixels,
                          uint64_t src_pitch_bytes, char *err, size_t errlen);
int lf_frame_acquire(void *base, uint32_t *slot_index, lf_frame_desc_t *desc_out,
                     char *err, size_t errlen);
int lf_frame_release(void *base, uint32_t slot_index);
int lf_gpu_slot_register(void *base, uint32_t slot_index, const lf_gpu_slot_t *slot);
int lf_gpu_slot_get(const void *base, uint32_t slot_index, lf_gpu_slot_t *out);

int lf_shm_create(lf_shm_t *shm, const char *name, size_t size);
int lf_shm_open(lf_shm_t *shm, const char *name);
int lf_shm_close(lf_shm_t *shm);
int lf_shm_unlink(const char *name);
int64_t lf_now_ns(void);
int64_t lf_current_pid(void);
int lf_pid_alive(int64_t pid);

int lf_bench_audio(void *base, uint32_t block_frames, uint32_t iterations,
                   uint64_t *write_ns, uint64_t *read_ns);
"""


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        # MSVC's C11 atomics are behind /experimental:c11atomics (VS 2022 17.5+).
        return ["/std:c11", "/experimental:c11atomics"]
    return ["-std=c11", "-O2", "-Wall", "-Wextra"]


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "livefoley.protocol._native",
    '#include "livefoley/protocol.h"\n',
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(INCLUDE)],
    extra_compile_args=_compile_args(),
    libraries=["rt"] if sys.platform.startswith("linux") else [],
    py_limited_api=True,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
