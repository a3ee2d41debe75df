/* The protocol-side test peer; see peer.h. */
#define _POSIX_C_SOURCE 200809L
#include "peer.h"

#include "livefoley/protocol.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tp_peer {
    lf_shm_t shm;
};

int tp_open(const char *name, tp_peer_t **out)
{
    tp_peer_t *p = calloc(1, sizeof *p);
    int rc;
    if (!p) return LF_E_INVALID_ARG;
    if ((rc = lf_shm_open(&p->shm, name)) != LF_OK) {
        free(p);
        return rc;
    }
    *out = p;
    return LF_OK;
}

void tp_close(tp_peer_t *p)
{
    if (!p) return;
    lf_shm_close(&p->shm);
    free(p);
}

uint32_t tp_write_audio(tp_peer_t *p, const float *in, uint32_t frames)
{
    return lf_audio_write(p->shm.base, in, frames);
}

uint64_t tp_audio_fill(tp_peer_t *p)
{
    return lf_audio_fill_frames(p->shm.base);
}

void tp_sidecar_beat(tp_peer_t *p, int64_t pid)
{
    lf_heartbeat(p->shm.base, LF_ROLE_SIDECAR, lf_now_ns(), pid ? pid : lf_current_pid());
}

uint32_t tp_state(tp_peer_t *p)
{
    return lf_state_get(p->shm.base);
}

uint32_t tp_state_closed(void)
{
    return LF_STATE_CLOSED;
}

uint32_t tp_location_gpu(void)
{
    return LF_LOCATION_GPU;
}

int tp_acquire_frame(tp_peer_t *p, tp_frame_t *out)
{
    lf_frame_desc_t d;
    uint32_t slot = 0;
    char err[256] = "";
    int rc = lf_frame_acquire(p->shm.base, &slot, &d, err, sizeof err);
    if (rc != LF_OK) return rc;
    memset(out, 0, sizeof *out);
    out->frame_index = d.frame_index;
    out->capture_ns = d.capture_ns;
    out->width = d.width;
    out->height = d.height;
    out->row_pitch_bytes = d.row_pitch_bytes;
    out->pixel_format = d.pixel_format;
    out->location = d.location;
    out->slot_index = slot;
    out->yaw_rad = d.yaw_rad;
    out->pitch_rad = d.pitch_rad;
    out->roll_rad = d.roll_rad;
    out->pixels = d.location == LF_LOCATION_HOST ? lf_frame_slot_pixels(p->shm.base, slot)
                                                 : NULL;
    return LF_OK;
}

int tp_release_frame(tp_peer_t *p, uint32_t slot)
{
    return lf_frame_release(p->shm.base, slot);
}

int tp_gpu_slot(tp_peer_t *p, uint32_t slot, tp_gpu_slot_t *out)
{
    lf_gpu_slot_t g;
    int rc = lf_gpu_slot_get(p->shm.base, slot, &g);
    if (rc != LF_OK) return rc;
    out->kind = g.kind;
    out->byte_size = g.byte_size;
    memcpy(out->mem_handle, g.cuda_mem_handle, 64);
    memcpy(out->event_handle, g.cuda_event_handle, 64);
    memcpy(out->device_uuid, g.device_uuid, 16);
    return LF_OK;
}

int tp_segment_exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    return access(path, F_OK) == 0;
}

int64_t tp_now_ns(void)
{
    return lf_now_ns();
}

int tp_corrupt(const char *name, int what)
{
    char path[256];
    struct stat st;
    int fd;
    uint8_t *base;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0) { close(fd); return -1; }
    if (what == TP_CORRUPT_TRUNCATE) {
        int rc = ftruncate(fd, (off_t)(st.st_size / 2));
        close(fd);
        return rc;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return -1;
    if (what == TP_CORRUPT_MAGIC) {
        memset(base + offsetof(lf_header_t, magic), 0x5A, 8);
    } else if (what == TP_CORRUPT_ABI) {
        uint32_t v = 99;
        memcpy(base + offsetof(lf_header_t, abi_version), &v, 4);
    } else if (what == TP_CORRUPT_AUDIO_OFFSET) {
        uint64_t v = (uint64_t)st.st_size * 4u;
        memcpy(base + offsetof(lf_header_t, audio_offset), &v, 8);
    }
    munmap(base, (size_t)st.st_size);
    return 0;
}

void tp_sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}
