/*
 * liblivefoley: the C library a game engine links to talk to the LiveFoley sidecar.
 *
 * What it is: a thin, stable-ABI layer over the protocol C core (the C files in protocol/native,
 * compiled into this library, never re-implemented). It creates or attaches the shared
 * memory session, spawns or awaits the sidecar, publishes frames (host memory, or a CUDA
 * device pointer copied into an IPC-exported slot), and reads audio on the engine's
 * real-time audio thread.
 *
 * What it is not: it does not generate audio, talk ZeroMQ, or know the segment layout in
 * this header. The layout lives in protocol/include/livefoley/protocol.h; nothing from it
 * leaks into this header, so this header is plain C that C++ (Unreal), C# (P/Invoke) and
 * C all consume, and the layout can evolve without breaking engines. Include this header
 * or protocol.h in a translation unit, not both: a few constants share names and values
 * (LF_OK, LF_FRAME_MODE_*, LF_PIXEL_*), and an engine needs only this one.
 *
 * ABI rules (checked by tests/engine_bindings/test_abi.py against
 * engine_bindings/c/abi/livefoley_abi.json):
 *   - Handles are opaque pointers.
 *   - Every public struct starts with `struct_size` (set by the caller, or by the *_init
 *     function) so fields can be appended without breaking old callers.
 *   - Changing any public struct layout or function signature requires bumping
 *     LF_LIB_ABI_VERSION and regenerating the manifest.
 *   - Every function returns an `int` status (LF_OK or a negative LF_ERR_*), except the
 *     real-time reader, which returns a frame count, and the pure queries.
 *   - No function ever aborts or exits its host.
 */
#ifndef LIVEFOLEY_LIVEFOLEY_H
#define LIVEFOLEY_LIVEFOLEY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(LF_BUILDING_LIBRARY)
#    define LF_API __declspec(dllexport)
#  elif defined(LF_STATIC)
#    define LF_API
#  else
#    define LF_API __declspec(dllimport)
#  endif
#else
#  if defined(LF_BUILDING_LIBRARY)
#    define LF_API __attribute__((visibility("default")))
#  else
#    define LF_API
#  endif
#endif

/* Version of THIS library's ABI (not the segment layout, see lf_protocol_version()).
 * Bumped whenever a public struct layout or function signature changes. */
#define LF_LIB_ABI_VERSION 1u

/* ---- status codes (0 = success, negative = failure) -------------------------------- */
#define LF_OK                    0
#define LF_ERR_INVALID_ARG      (-1)  /* NULL pointer, zero size, bad enum value */
#define LF_ERR_NOT_FOUND        (-2)  /* no session segment of that name */
#define LF_ERR_EXISTS           (-3)  /* a session of that name already exists */
#define LF_ERR_BAD_MAGIC        (-4)  /* the segment is not a LiveFoley session */
#define LF_ERR_ABI_MISMATCH     (-5)  /* segment layout version differs from this build */
#define LF_ERR_BAD_LAYOUT       (-6)  /* sizes/offsets inconsistent or segment truncated */
#define LF_ERR_UNSUPPORTED      (-7)  /* sample rate, channels or pixel format not servable */
#define LF_ERR_FRAME_TOO_LARGE  (-8)  /* frame bigger than a slot */
#define LF_ERR_WOULD_BLOCK      (-9)  /* fifo mode: every slot is queued (back-pressure) */
#define LF_ERR_NO_MEMORY        (-10)
#define LF_ERR_SYSTEM           (-11) /* an OS call failed; see lf_last_error() */
#define LF_ERR_PEER_DEAD        (-12) /* the other side's heartbeat is stale or pid gone */
#define LF_ERR_WRONG_ROLE       (-13) /* e.g. spawning a sidecar from a non-owner */
#define LF_ERR_SPAWN            (-20) /* the sidecar executable could not be started */
#define LF_ERR_SIDECAR_EXITED   (-21) /* the spawned sidecar exited before it was ready */
#define LF_ERR_TIMEOUT          (-22) /* no sidecar heartbeat within the timeout */
#define LF_ERR_NO_CUDA          (-30) /* the CUDA driver library is not present */
#define LF_ERR_CUDA             (-31) /* a CUDA driver call failed; see lf_last_error() */
#define LF_ERR_PROTOCOL         (-40) /* any other protocol-core failure */

/* ---- enumerations (plain uint32 values; never C enums in structs) ------------------ */
#define LF_FRAME_MODE_LATEST 0u /* triple-buffered mailbox: newest frame wins, never waits */
#define LF_FRAME_MODE_FIFO   1u /* bounded queue with back-pressure: nothing dropped */

#define LF_PIXEL_RGBA8 1u
#define LF_PIXEL_BGRA8 2u
#define LF_PIXEL_RGB8  3u

#define LF_ROLE_OWNER    1u /* created the segment (the engine) */
#define LF_ROLE_ATTACHED 2u /* attached to an existing segment */

/* ---- opaque handle ----------------------------------------------------------------- */
typedef struct lf_session lf_session_t;

/* Session parameters. Call lf_session_config_init() first, then override fields. */
typedef struct lf_session_config {
    uint32_t struct_size;          /* sizeof(lf_session_config_t) */
    uint32_t sample_rate_hz;       /* default 48000 */
    uint32_t channels;             /* interleaved channels in the audio ring; default 2 */
    uint32_t ring_capacity_frames; /* power of two; default 16384 (341 ms at 48 kHz) */
    uint32_t frame_mode;           /* LF_FRAME_MODE_*; default LATEST */
    uint32_t frame_slots;          /* host frame slots; default 3 (latest) or 4 (fifo) */
    uint32_t max_frame_width;      /* pixels; default 1920 */
    uint32_t max_frame_height;     /* pixels; default 1080 */
    uint32_t max_bytes_per_pixel;  /* default 4 */
    uint32_t reserved[7];          /* zero */
} lf_session_config_t;

/* A snapshot of session counters. Read with lf_session_stats(). */
typedef struct lf_stats {
    uint32_t struct_size;             /* sizeof(lf_stats_t) */
    uint32_t role;                    /* LF_ROLE_* */
    uint32_t sample_rate_hz;
    uint32_t channels;
    uint32_t ring_capacity_frames;
    uint32_t frame_mode;
    uint64_t audio_frames_written;    /* total frames the sidecar wrote into the ring */
    uint64_t audio_frames_read;       /* total frames this reader consumed (incl. silence) */
    uint64_t audio_fill_frames;       /* written - consumed, right now */
    uint64_t underrun_frames;         /* frames of silence the reader had to play */
    uint64_t underrun_events;         /* reads that came up short */
    uint64_t frames_published;        /* frames this host published */
    uint64_t frames_dropped;          /* latest mode: frames overwritten before consumed */
    int64_t  sidecar_heartbeat_age_ns;/* -1 if the sidecar never beat */
    int64_t  sidecar_pid;             /* pid the sidecar wrote, or the spawned pid; 0 none */
    uint32_t sidecar_alive;           /* 1 if heartbeat fresh and process alive */
    uint32_t reserved0;
    uint64_t reserved[4];
} lf_stats_t;

/* ---- version and errors ------------------------------------------------------------ */

/* The ABI version this library was built with. Compare with LF_LIB_ABI_VERSION at load.
 * Thread-safety: any thread. Real-time safe: yes. */
LF_API uint32_t lf_abi_version(void);

/* The segment layout (protocol) version this library speaks. */
LF_API uint32_t lf_protocol_version(void);

/* A static English message for a status code; never NULL. Real-time safe: yes. */
LF_API const char *lf_error_string(int code);

/* Details of the last failing call on this thread (names expected and found values);
 * "" when none. The pointer is valid until the next failing call on this thread.
 * Thread-safety: per thread (thread-local buffer). */
LF_API const char *lf_last_error(void);

/* ---- session lifecycle ------------------------------------------------------------- */

/* Fill `config` with defaults (including struct_size). */
LF_API void lf_session_config_init(lf_session_config_t *config);

/* Create (own) a session segment named `name` (letters, digits, '-', '_'; at most 63).
 * `config` may be NULL for defaults. Fails with LF_ERR_EXISTS if it already exists.
 * Thread-safety: lifecycle calls on a handle must not overlap any other call on it. */
LF_API int lf_session_create(const char *name, const lf_session_config_t *config,
                             lf_session_t **out_session);

/* Attach to an existing session (validates magic, ABI, sizes, offsets). */
LF_API int lf_session_attach(const char *name, lf_session_t **out_session);

/* Unmap and free the handle. Never unlinks the segment, never stops the sidecar. */
LF_API int lf_session_detach(lf_session_t *session);

/* Owner: mark the session closed, stop a sidecar this handle spawned (terminate, wait up
 * to `timeout_ms`, then kill), unlink the segment and free the handle.
 * Attached handle: same as lf_session_detach. */
LF_API int lf_session_destroy(lf_session_t *session, uint32_t timeout_ms);

/* The session's name; valid while the handle lives. */
LF_API const char *lf_session_name(const lf_session_t *session);

/* Audio format of the ring. Real-time safe: yes. */
LF_API uint32_t lf_session_channels(const lf_session_t *session);
LF_API uint32_t lf_session_sample_rate_hz(const lf_session_t *session);

/* Write the host's heartbeat (publishing a frame also does). Call once per game frame. */
LF_API int lf_session_heartbeat(lf_session_t *session);

/* Snapshot of counters. `out->struct_size` must be set (or zero for the current size).
 * Thread-safety: any thread, concurrently with the reader and the publisher. */
LF_API int lf_session_stats(const lf_session_t *session, lf_stats_t *out);

/* ---- the sidecar ------------------------------------------------------------------- */

/* Start `executable serve --session NAME [--model MODEL]` (posix_spawnp / CreateProcessW;
 * `executable` NULL means "livefoley" on PATH). Owner only. Does not wait: pair it with
 * lf_sidecar_await(). */
LF_API int lf_sidecar_spawn(lf_session_t *session, const char *executable,
                            const char *model);

/* Wait until the sidecar's heartbeat appears in the session header (LF_OK), the spawned
 * process exits (LF_ERR_SIDECAR_EXITED), or `timeout_ms` passes (LF_ERR_TIMEOUT).
 * `timeout_ms` 0 polls once (engines call it once per frame instead of blocking).
 * Thread-safety: the thread that spawned (it reaps the child). Real-time safe: no. */
LF_API int lf_sidecar_await(lf_session_t *session, uint32_t timeout_ms);

/* LF_OK if the sidecar's heartbeat is younger than `max_age_ms` and its process lives;
 * LF_ERR_PEER_DEAD otherwise. */
LF_API int lf_sidecar_check(const lf_session_t *session, uint32_t max_age_ms);

/* Stop a sidecar this handle spawned: terminate, wait up to `timeout_ms`, then kill.
 * LF_OK also when none was spawned or it already exited. */
LF_API int lf_sidecar_stop(lf_session_t *session, uint32_t timeout_ms);

/* ---- frames (producer thread: one thread publishes) --------------------------------
 * Thread-safety: one publishing thread per session, concurrently with the audio reader.
 * Real-time safe: no (copies a frame; the CUDA path calls the driver). */

/* Copy a frame from host memory into a free slot and publish it. `row_pitch_bytes` is the
 * source stride (0 = tightly packed). LATEST mode never waits; FIFO mode returns
 * LF_ERR_WOULD_BLOCK when every slot is queued.
 * Orientation (also for lf_publish_frame_cuda): the listener's, in LiveFoley's convention,
 * which the caller converts its engine's angles to: radians, intrinsic yaw-pitch-roll about
 * x front, y left, z up; yaw + = turns LEFT, pitch + = looks UP, roll + = RIGHT ear down;
 * finite, (-pi, pi] recommended. Unity eulerAngles (x, y, z) -> (-y, -x, -z); Unreal FRotator
 * -> (-Yaw, Pitch, Roll); degrees to radians (protocol/README.md "Orientation"). */
LF_API int lf_publish_frame_host(lf_session_t *session, const void *pixels,
                                 uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                                 uint32_t pixel_format, uint64_t frame_index,
                                 uint64_t capture_ns, float yaw_rad, float pitch_rad,
                                 float roll_rad);

/* LF_OK if the CUDA driver can be loaded and initialised, LF_ERR_NO_CUDA if the driver
 * library is absent, LF_ERR_CUDA if it is present but cuInit fails. */
LF_API int lf_cuda_available(void);

/* Copy a frame from a CUDA device pointer (CUdeviceptr, in the caller's current
 * context) into an IPC-exported GPU slot on `cuda_stream` (CUstream, may be NULL), record
 * the slot's IPC event on that stream, and publish the descriptor. Never synchronises the
 * caller's stream. LF_ERR_NO_CUDA where the driver is absent; the rest of the library
 * works regardless. */
LF_API int lf_publish_frame_cuda(lf_session_t *session, uint64_t device_ptr,
                                 uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                                 uint32_t pixel_format, uint64_t frame_index,
                                 uint64_t capture_ns, float yaw_rad, float pitch_rad,
                                 float roll_rad, void *cuda_stream);

/* ---- audio (the engine's real-time audio thread: exactly one reader) --------------- */

/* Fill `out` with exactly `frames` interleaved frames (frames * channels floats): what
 * the ring holds, then silence, counting the shortfall as underrun frames. Returns the
 * number of frames that were real audio (0..frames), or LF_ERR_INVALID_ARG for a NULL
 * session or buffer (nothing written).
 * Real-time safe: yes (no locks, allocation or system calls).
 * Thread-safety: exactly one reader thread per session. */
LF_API int32_t lf_read_audio(lf_session_t *session, float *out, uint32_t frames);

#ifdef __cplusplus
}
#endif

#endif /* LIVEFOLEY_LIVEFOLEY_H */
