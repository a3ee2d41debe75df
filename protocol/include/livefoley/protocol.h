/*
 * livefoley/protocol.h -- the session segment shared by an engine (host) and the LiveFoley
 * sidecar. This header is the single source of truth for the layout; protocol/layout.py
 * mirrors it field by field and tests/protocol/test_layout.py proves the two agree.
 *
 * What it is: the byte layout (header, audio ring, frame descriptors, GPU slots, pixel
 * slots), the enums and error codes, and the C API that operates on a mapped segment
 * (ring, frame mailbox/queue, heartbeats, shared-memory create/open/close).
 * What it is not: the control channel (ZeroMQ, msgpack) or any GPU code.
 *
 * Pure C11 plus POSIX or Win32; no Python headers. Every function returns LF_OK (0) or a
 * negative LF_E_* code and never aborts its host. The design argument (cache lines, memory
 * ordering, why it is correct on ARM64) is protocol/README.md.
 */
#ifndef LIVEFOLEY_PROTOCOL_H
#define LIVEFOLEY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
/* C++ callers see the shared counters as plain integers and must only touch them through
 * the lf_* functions below, which use C11 atomics. std::atomic<T> has the same size and
 * alignment as T for the lock-free 32/64-bit types used here on every supported ABI. */
#define LF_ATOMIC(T) T
#else
#include <stdatomic.h>
#define LF_ATOMIC(T) _Atomic T
#endif

/* ---- identity ------------------------------------------------------------------------- */
#define LF_MAGIC 0x594C4F4645564C49ULL /* "ILVEFOLY" read as little-endian u64 */
#define LF_ABI_VERSION 1u
#define LF_CACHE_LINE_BYTES 64u
#define LF_PAGE_BYTES 4096u         /* region alignment: pinnable, cudaHostRegister-able */
#define LF_HEADER_BYTES 1024u       /* sizeof(lf_header_t) */
#define LF_ENDPOINT_BYTES 256u      /* control endpoint, NUL-terminated UTF-8 */
#define LF_SHM_NAME_BYTES 128u

/* ---- limits a segment must satisfy (checked by lf_params_check / lf_segment_validate) -- */
#define LF_MIN_SAMPLE_RATE_HZ 8000u
#define LF_MAX_SAMPLE_RATE_HZ 384000u
#define LF_MAX_CHANNELS 64u
#define LF_MIN_RING_FRAMES 16u
#define LF_MAX_RING_FRAMES (1u << 24)
#define LF_MAX_SLOTS 64u
#define LF_MAX_FRAME_BYTES (1ull << 30)
#define LF_MAX_FRAME_DIM 16384u

/* ---- error codes ---------------------------------------------------------------------- */
#define LF_OK 0
#define LF_E_INVALID_ARG -1   /* a NULL pointer or an argument out of range */
#define LF_E_NOT_FOUND -2     /* no segment with that name */
#define LF_E_EXISTS -3        /* a segment with that name already exists */
#define LF_E_OS -4            /* the operating system refused (see errno / GetLastError) */
#define LF_E_BAD_MAGIC -5     /* not a LiveFoley segment (or not initialised yet) */
#define LF_E_ABI -6           /* ABI version differs */
#define LF_E_TOO_SMALL -7     /* mapping smaller than the header says */
#define LF_E_LAYOUT -8        /* a region offset/size is out of range or inconsistent */
#define LF_E_PARAMS -9        /* sample rate, channels, capacity, mode or slots invalid */
#define LF_E_EMPTY -10        /* nothing to acquire */
#define LF_E_FULL -11         /* no free slot (fifo back-pressure) */
#define LF_E_DESCRIPTOR -12   /* a frame descriptor field is out of range */
#define LF_E_STATE -13        /* wrong slot for this operation (not owned by the caller) */
#define LF_E_GPU_SLOT -14     /* GPU slot not registered or too small */
#define LF_E_NAME -15         /* segment name empty or too long */
#define LF_E_UNSUPPORTED -16  /* not available on this platform */

const char *lf_strerror(int code);

/* ---- enums (stored as uint32 in the segment) ------------------------------------------ */
typedef enum lf_frame_mode {
    LF_FRAME_MODE_LATEST = 0, /* triple-buffered mailbox: producer never waits, newest wins */
    LF_FRAME_MODE_FIFO = 1    /* bounded queue with back-pressure: nothing dropped */
} lf_frame_mode_t;

typedef enum lf_pixel_format {
    LF_PIXEL_RGBA8 = 1,
    LF_PIXEL_BGRA8 = 2,
    LF_PIXEL_RGB8 = 3
} lf_pixel_format_t;

typedef enum lf_frame_location {
    LF_LOCATION_HOST = 0, /* pixels in the segment's host slot of the same index */
    LF_LOCATION_GPU = 1   /* pixels in the registered GPU slot of the same index */
} lf_frame_location_t;

typedef enum lf_projection {
    LF_PROJECTION_IMAGE = 0,  /* the image as rendered: a camera view or an equirectangular
                                 panorama (the model decides how to read it) */
    LF_PROJECTION_CUBEMAP = 1 /* 6 square faces stacked top to bottom (width S, height 6 S) in
                                 the order front, back, left, right, up, down, each face's
                                 axes as tabulated in models/spatial/equirect.py; the sidecar
                                 converts it to an equirectangular panorama on its device */
} lf_projection_t;

typedef enum lf_gpu_slot_kind {
    LF_GPU_NONE = 0,
    LF_GPU_CUDA_IPC = 1,        /* cudaIpcMemHandle_t + cudaIpcEventHandle_t (Linux) */
    LF_GPU_D3D12_NT_HANDLE = 2, /* shared NT handle + D3D12 fence value (Windows) */
    LF_GPU_D3D11_NT_HANDLE = 3  /* shared NT handle, keyed mutex / fence (Windows) */
} lf_gpu_slot_kind_t;

typedef enum lf_session_state {
    LF_STATE_CREATED = 0, /* host initialised the segment */
    LF_STATE_READY = 1,   /* sidecar attached and ready */
    LF_STATE_RUNNING = 2,
    LF_STATE_STOPPING = 3,
    LF_STATE_CLOSED = 4
} lf_session_state_t;

typedef enum lf_role { LF_ROLE_HOST = 0, LF_ROLE_SIDECAR = 1 } lf_role_t;

typedef enum lf_peer_state {
    LF_PEER_ABSENT = 0, /* never sent a heartbeat */
    LF_PEER_ALIVE = 1,
    LF_PEER_STALE = 2,  /* process exists but its heartbeat is older than the limit */
    LF_PEER_DEAD = 3    /* the recorded pid no longer exists (or is a zombie) */
} lf_peer_state_t;

/* ---- the header: 16 cache lines, each written by one side only ------------------------ */
typedef struct lf_header {
    /* line 0: identity, immutable after lf_segment_init (magic is stored last, release) */
    LF_ATOMIC(uint64_t) magic;
    uint32_t abi_version;
    uint32_t header_bytes;
    uint64_t total_bytes;
    int64_t created_by_pid;
    int64_t created_ns; /* CLOCK_MONOTONIC */
    uint8_t pad0[24];
    /* line 1: parameters, immutable */
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames; /* power of two */
    uint32_t frame_mode;           /* lf_frame_mode_t */
    uint32_t slot_count;
    uint32_t reserved1;
    uint64_t max_frame_bytes;
    uint64_t pixel_slot_stride_bytes; /* max_frame_bytes rounded up to LF_PAGE_BYTES */
    uint8_t pad1[24];
    /* line 2: region table, immutable; offsets from the segment base */
    uint64_t audio_offset;
    uint64_t audio_bytes;
    uint64_t desc_offset;
    uint64_t desc_bytes;
    uint64_t gpu_offset;
    uint64_t gpu_bytes;
    uint64_t pixels_offset;
    uint64_t pixels_bytes;
    /* line 3: session state (either side) and the endpoint seqlock (endpoint writer) */
    LF_ATOMIC(uint32_t) state;        /* lf_session_state_t */
    LF_ATOMIC(uint32_t) endpoint_seq; /* odd while control_endpoint is being written */
    uint8_t pad3[56];
    /* lines 4-7 */
    char control_endpoint[LF_ENDPOINT_BYTES];
    /* line 8: host heartbeat (host writes) */
    LF_ATOMIC(int64_t) host_heartbeat_ns;
    LF_ATOMIC(int64_t) host_pid;
    uint8_t pad8[48];
    /* line 9: sidecar heartbeat (sidecar writes) */
    LF_ATOMIC(int64_t) sidecar_heartbeat_ns;
    LF_ATOMIC(int64_t) sidecar_pid;
    uint8_t pad9[48];
    /* line 10: audio producer (monotonic frame counter, never wraps in practice) */
    LF_ATOMIC(uint64_t) audio_write_count;
    LF_ATOMIC(uint64_t) audio_overflow_frames; /* frames a write could not place (ring full) */
    uint8_t pad10[48];
    /* line 11: audio consumer */
    LF_ATOMIC(uint64_t) audio_read_count;
    LF_ATOMIC(uint64_t) underrun_frames; /* silence frames the reader had to insert */
    LF_ATOMIC(uint64_t) underrun_events; /* reads that came up short */
    LF_ATOMIC(uint64_t) audio_reads;     /* calls to lf_audio_read */
    uint8_t pad11[32];
    /* line 12: latest-mode mailbox (exchanged by both sides) */
    LF_ATOMIC(uint32_t) mailbox; /* slot index | LF_MAILBOX_FRESH */
    uint8_t pad12[60];
    /* line 13: frame producer */
    LF_ATOMIC(uint32_t) latest_back; /* slot the producer fills next (latest mode) */
    uint32_t reserved13;
    LF_ATOMIC(uint64_t) fifo_write_count;
    LF_ATOMIC(uint64_t) frames_published;
    LF_ATOMIC(uint64_t) frames_dropped; /* latest: overwritten in the mailbox, never taken */
    LF_ATOMIC(uint64_t) frames_refused; /* fifo: publish attempts that found no free slot */
    uint8_t pad13[24];
    /* line 14: frame consumer */
    LF_ATOMIC(uint32_t) latest_front; /* slot the consumer holds (latest mode) */
    uint32_t reserved14;
    LF_ATOMIC(uint64_t) fifo_read_count;
    LF_ATOMIC(uint64_t) frames_acquired;
    LF_ATOMIC(uint64_t) frames_rejected; /* descriptors that failed validation */
    uint8_t pad14[32];
    /* line 15: reserved for future counters */
    uint8_t pad15[64];
} lf_header_t;

#define LF_MAILBOX_FRESH 0x100u
#define LF_MAILBOX_INDEX_MASK 0xFFu

/* ---- frame descriptor: one per slot, 64 bytes, in the desc region ---------------------- */
typedef struct lf_frame_desc {
    uint64_t frame_index;
    int64_t capture_ns;       /* CLOCK_MONOTONIC of the producer */
    uint32_t width;
    uint32_t height;
    uint32_t row_pitch_bytes; /* >= width * bytes per pixel */
    uint32_t pixel_format;    /* lf_pixel_format_t */
    uint32_t location;        /* lf_frame_location_t */
    uint32_t slot_index;      /* set by lf_frame_commit */
    /* Listener (camera) orientation for spatial audio, in LiveFoley's convention, which the
     * producer converts its engine's angles to before publishing (protocol/README.md
     * "Orientation"): radians, intrinsic yaw then pitch then roll about right-handed axes
     * x front, y left, z up; R_head = Rz(yaw) Ry(-pitch) Rx(roll) maps head to world.
     * yaw + = turns LEFT, pitch + = looks UP, roll + = RIGHT ear down; finite, (-pi, pi]
     * recommended. Unity eulerAngles (x, y, z) -> (-y, -x, -z); Unreal FRotator -> (-Yaw,
     * Pitch, Roll). (0, 0, 0) = looking along the panorama's centre column, upright. */
    float yaw_rad;
    float pitch_rad;
    float roll_rad;
    uint32_t projection;      /* lf_projection_t (was reserved, written 0 = IMAGE) */
    uint64_t fence_value;     /* GPU: value the consumer waits for before reading */
} lf_frame_desc_t;

/* ---- GPU slot: one per slot, 256 bytes, registered once by the host -------------------- */
typedef struct lf_gpu_slot {
    uint32_t kind; /* lf_gpu_slot_kind_t */
    uint32_t reserved0;
    uint64_t byte_size;            /* bytes of the shared allocation */
    uint8_t cuda_mem_handle[64];   /* cudaIpcMemHandle_t */
    uint8_t cuda_event_handle[64]; /* cudaIpcEventHandle_t (cudaEventInterprocess) */
    uint64_t nt_handle;            /* Windows shared NT handle of the resource */
    uint64_t fence_value;          /* last fence value signalled for this slot */
    uint8_t device_uuid[16];       /* cudaDeviceProp::uuid / DXGI adapter: refuse a mismatch */
    uint8_t device_luid[8];        /* Windows adapter LUID */
    uint8_t pad[72];
} lf_gpu_slot_t;

/* ---- creation parameters --------------------------------------------------------------- */
typedef struct lf_params {
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames; /* power of two */
    uint32_t frame_mode;           /* lf_frame_mode_t */
    uint32_t slot_count;           /* latest: >= 3 (slots 0..2 are used); fifo: >= 1 */
    uint32_t reserved0;
    uint64_t max_frame_bytes;      /* host pixel bytes per slot; 0 = GPU-only frames */
} lf_params_t;

/* A snapshot of every counter, each loaded with acquire. */
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
    int32_t state; /* lf_peer_state_t */
    int32_t reserved0;
    int64_t pid;
    int64_t heartbeat_ns;
    int64_t age_ns; /* now - heartbeat_ns; -1 when absent */
} lf_peer_t;

/* ---- segment (segment.c) ---------------------------------------------------------------- */
int lf_params_check(const lf_params_t *params, char *err, size_t errlen);
/* Bytes a segment with these params needs; 0 when the params are invalid. */
size_t lf_segment_size(const lf_params_t *params);
/* Zero the whole mapping (pre-faulting it), write the header, store magic last (release). */
int lf_segment_init(void *base, size_t size, const lf_params_t *params);
/* Check magic, ABI, sizes, parameters and region table against a mapping of mapped_size
 * bytes. On failure writes "what: expected X, found Y" into err. Reads nothing past
 * mapped_size. */
int lf_segment_validate(const void *base, size_t mapped_size, char *err, size_t errlen);
void lf_counters_read(const void *base, lf_counters_t *out);
uint32_t lf_state_get(const void *base);
void lf_state_set(void *base, uint32_t state);
/* Seqlock-protected endpoint string: one writer at a time; readers retry on a torn read. */
int lf_endpoint_set(void *base, const char *endpoint);
int lf_endpoint_get(const void *base, char *out, size_t outlen);
void lf_heartbeat(void *base, int role, int64_t now_ns, int64_t pid);
int lf_peer_status(const void *base, int role, int64_t now_ns, int64_t stale_after_ns,
                   lf_peer_t *out);

/* ---- audio ring (audio.c): SPSC, float32 interleaved ---------------------------------- */
/* Producer only. Copies up to `frames` frames, never overwriting unread audio; returns the
 * frames written (less than asked when the ring is full; the rest counts as overflow).
 * Real-time safe: no locks, allocation or system calls. */
uint32_t lf_audio_write(void *base, const float *in, uint32_t frames);
/* Consumer only. Fills exactly `frames` frames of `out`: what is there, then silence, and
 * counts the silence as underrun. Returns the real frames copied. Real-time safe. */
uint32_t lf_audio_read(void *base, float *out, uint32_t frames);
uint64_t lf_audio_fill_frames(const void *base);
uint64_t lf_audio_free_frames(const void *base);
/* A side's private, validated snapshot of the ring's geometry (data pointer, capacity,
 * channels). Filled once by lf_audio_view_init (which runs lf_segment_validate on the
 * mapping), it keeps a peer that scribbles on the header's immutable lines from steering
 * this side's memcpy out of bounds: only the counters are read from shared memory, and
 * impossible counter values are clamped (writer) or resynchronised (reader). */
typedef struct lf_audio_view {
    void *base;
    float *data;
    uint64_t capacity_frames;
    uint32_t channels;
    uint32_t reserved0;
} lf_audio_view_t;

int lf_audio_view_init(lf_audio_view_t *view, void *base, size_t mapped_size, char *err,
                       size_t errlen);
/* Same contracts as lf_audio_write / lf_audio_read. Real-time safe. */
uint32_t lf_audio_view_write(const lf_audio_view_t *view, const float *in, uint32_t frames);
uint32_t lf_audio_view_read(const lf_audio_view_t *view, float *out, uint32_t frames);
/* Move both counters to `position` (ring must be idle: no producer or consumer running).
 * For re-priming after a reset and for testing counters near 2^64. */
void lf_audio_reset_position(void *base, uint64_t position);

/* ---- frame slots (frames.c) ------------------------------------------------------------ */
size_t lf_pixel_bytes_per_pixel(uint32_t pixel_format); /* 0 for an unknown format */
/* Check a descriptor against the segment; err names the field, expected and found. */
int lf_frame_desc_check(const void *base, const lf_frame_desc_t *desc, char *err,
                        size_t errlen);
uint8_t *lf_frame_slot_pixels(void *base, uint32_t slot_index); /* NULL if out of range */
/* Producer: the slot to fill next. latest: always LF_OK. fifo: LF_E_FULL while every slot
 * holds an unreleased frame. Idempotent until commit; counts nothing. */
int lf_frame_begin(void *base, uint32_t *slot_index);
/* Producer: count one publish that gave up for lack of a slot (frames_refused). */
void lf_frame_note_refused(void *base);
/* Producer: validate `desc`, store it in the slot, publish (release). */
int lf_frame_commit(void *base, uint32_t slot_index, const lf_frame_desc_t *desc,
                    char *err, size_t errlen);
/* Producer convenience: begin + copy rows (src_pitch_bytes apart) + commit. LF_E_FULL
 * (fifo) counts one refusal. */
int lf_frame_publish_host(void *base, const lf_frame_desc_t *desc, const void *pixels,
                          uint64_t src_pitch_bytes, char *err, size_t errlen);
/* Consumer: latest: take the newest complete frame not yet taken; fifo: the oldest. The
 * descriptor is copied to desc_out and validated; an invalid one is counted in
 * frames_rejected, its slot released, and LF_E_DESCRIPTOR returned with err set. */
int lf_frame_acquire(void *base, uint32_t *slot_index, lf_frame_desc_t *desc_out,
                     char *err, size_t errlen);
/* Consumer: done reading slot_index (fifo: frees it; latest: checks ownership). */
int lf_frame_release(void *base, uint32_t slot_index);
int lf_gpu_slot_register(void *base, uint32_t slot_index, const lf_gpu_slot_t *slot);
int lf_gpu_slot_get(const void *base, uint32_t slot_index, lf_gpu_slot_t *out);

/* ---- shared memory and platform (platform.c) ------------------------------------------ */
typedef struct lf_shm {
    void *base;
    size_t size;
    int64_t fd;    /* POSIX file descriptor, or Windows HANDLE value; -1 when closed */
    int32_t owner; /* 1 when this handle created the segment */
    int32_t reserved0;
    char name[LF_SHM_NAME_BYTES]; /* platform name: "/lf-x" or "Local\\lf-x" */
} lf_shm_t;

/* Create (exclusive, mode 0600) and map `size` bytes. The name may omit the leading '/'. */
int lf_shm_create(lf_shm_t *shm, const char *name, size_t size);
/* Open and map an existing segment read-write; shm->size is its full size. */
int lf_shm_open(lf_shm_t *shm, const char *name);
/* Unmap and close; never unlinks. */
int lf_shm_close(lf_shm_t *shm);
/* Remove the name (POSIX). Windows: a no-op, the mapping dies with its last handle. */
int lf_shm_unlink(const char *name);
/* Convenience for hosts: create + lf_segment_init. */
int lf_session_create(lf_shm_t *shm, const char *name, const lf_params_t *params);
/* Convenience for attachers: open + lf_segment_validate. */
int lf_session_open(lf_shm_t *shm, const char *name, char *err, size_t errlen);
int64_t lf_now_ns(void);       /* CLOCK_MONOTONIC (QueryPerformanceCounter on Windows) */
int64_t lf_current_pid(void);
int lf_pid_alive(int64_t pid); /* 1 alive, 0 gone or zombie */

/* ---- measurement (selftest.c) ---------------------------------------------------------- */
/* Time `iterations` write+read pairs of `block_frames` frames through the ring in this
 * thread; per-call nanoseconds go to write_ns[i] and read_ns[i]. Ring must be idle. */
int lf_bench_audio(void *base, uint32_t block_frames, uint32_t iterations,
                   uint64_t *write_ns, uint64_t *read_ns);

#ifdef __cplusplus
}
#endif
#endif /* LIVEFOLEY_PROTOCOL_H */
