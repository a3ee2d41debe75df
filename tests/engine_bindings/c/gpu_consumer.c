/* The sidecar's side of a CUDA frame, in another process (CUDA IPC handles cannot be
 * opened by their exporter): acquire the newest frame, open the slot's memory and event
 * handles, wait on the event, copy the pixels back and check the pattern
 * (byte = frame_index + 3*y + x). Usage: gpu_consumer SESSION W H FRAME_INDEX */
#define _POSIX_C_SOURCE 200809L
#include "cuda_min.h"
#include "peer.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    tp_peer_t *p = NULL;
    tp_frame_t f;
    tp_gpu_slot_t g;
    cu_ipc64 mh, eh;
    cu_ptr dptr = 0;
    void *ev = NULL;
    char uuid[16];
    unsigned w, h, x, y, bad = 0;
    unsigned long long want;
    unsigned char *host;
    if (argc != 5) return 2;
    w = (unsigned)atoi(argv[2]);
    h = (unsigned)atoi(argv[3]);
    want = strtoull(argv[4], NULL, 10);
    if (cu_setup() != 0) return 3;
    if (tp_open(argv[1], &p) != 0) return fprintf(stderr, "attach failed\n"), 4;
    if (tp_acquire_frame(p, &f) != 0) return fprintf(stderr, "no frame\n"), 5;
    if (f.location != tp_location_gpu() || f.frame_index != want || f.width != w || f.height != h)
        return fprintf(stderr, "descriptor: expected GPU frame %llu %ux%u, found location %u "
                       "frame %llu %ux%u\n", want, w, h, f.location,
                       (unsigned long long)f.frame_index, f.width, f.height), 6;
    if (tp_gpu_slot(p, f.slot_index, &g) != 0 || g.kind != 1) return 7;
    cu.cuDeviceGetUuid(uuid, 0);
    if (memcmp(uuid, g.device_uuid, 16) != 0)
        return fprintf(stderr, "device uuid differs from the exporter's\n"), 8;
    memcpy(mh.r, g.mem_handle, 64);
    memcpy(eh.r, g.event_handle, 64);
    if (cu.cuIpcOpenMemHandle_v2(&dptr, mh, 1) || cu.cuIpcOpenEventHandle(&ev, eh))
        return fprintf(stderr, "opening IPC handles failed\n"), 9;
    cu.cuEventSynchronize(ev);
    host = malloc((size_t)f.row_pitch_bytes * h);
    cu.cuMemcpyDtoH_v2(host, dptr, (size_t)f.row_pitch_bytes * h);
    for (y = 0; y < h; ++y)
        for (x = 0; x < w * 4; ++x)
            bad += host[y * f.row_pitch_bytes + x] != (unsigned char)(want + 3 * y + x);
    cu.cuIpcCloseMemHandle(dptr);
    tp_release_frame(p, f.slot_index);
    tp_close(p);
    free(host);
    if (bad) return fprintf(stderr, "%u bytes differ\n", bad), 10;
    printf("ok\n");
    return 0;
}
