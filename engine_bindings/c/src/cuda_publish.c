/*
 * lf_publish_frame_cuda: copy a frame from the caller's CUDA device pointer into one of
 * the session's GPU slots (cuMemAlloc'd once, exported once with cuIpcGetMemHandle), on
 * the caller's stream, then record the slot's interprocess event on that stream and
 * publish the descriptor. The sidecar opens each handle once, waits on the event on its
 * own stream, and never makes the engine's stream wait.
 *
 * Linux only in practice: legacy CUDA IPC on Windows/WDDM is unsupported or slow (see
 * engine_bindings/README.md); the Windows path is a shared D3D12 resource + fence, done
 * in the engine plugin. Everything here runs on the producer thread, never on the audio
 * thread.
 */
#include "cuda_driver.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define LF_MAX_GPU_SLOTS 8u

struct lfi_cuda_slots {
    const lfi_cuda_t *cu;
    lf_CUcontext ctx;
    uint32_t count;
    uint64_t slot_bytes;
    lf_CUdeviceptr mem[LF_MAX_GPU_SLOTS];
    lf_CUevent event[LF_MAX_GPU_SLOTS];
};

static void free_slots(struct lfi_cuda_slots *c)
{
    uint32_t i;
    lf_CUcontext popped = NULL;
    int pushed = c->ctx && c->cu->cuCtxPushCurrent(c->ctx) == LF_CUDA_SUCCESS;
    for (i = 0; i < c->count; ++i) {
        if (c->event[i]) {
            c->cu->cuEventSynchronize(c->event[i]);
            c->cu->cuEventDestroy(c->event[i]);
        }
        if (c->mem[i]) c->cu->cuMemFree(c->mem[i]);
    }
    if (pushed) c->cu->cuCtxPopCurrent(&popped);
    free(c);
}

void lfi_cuda_release(lf_session_t *s)
{
    if (s->cuda) free_slots(s->cuda);
    s->cuda = NULL;
}

static int export_slots(lf_session_t *s, const lfi_cuda_t *cu)
{
    struct lfi_cuda_slots *c;
    lf_CUdevice dev = 0;
    lf_CUuuid uuid;
    lf_CUipcMemHandle mh;
    lf_CUipcEventHandle eh;
    lfi_gpu_export_t exp;
    lf_CUresult r;
    uint32_t i, n = lfi_seg_gpu_slot_count(s->seg);
    int rc;
    if (n == 0)
        return lfi_fail(LF_ERR_UNSUPPORTED, "session %s: expected GPU frame slots in the "
                        "segment, found 0", s->name);
    if (n > LF_MAX_GPU_SLOTS) n = LF_MAX_GPU_SLOTS;
    c = (struct lfi_cuda_slots *)calloc(1, sizeof *c);
    if (!c) return lfi_fail(LF_ERR_NO_MEMORY, "allocating CUDA slot state");
    c->cu = cu;
    c->slot_bytes = lfi_seg_slot_bytes(s->seg);
    if ((r = cu->cuCtxGetCurrent(&c->ctx)) != LF_CUDA_SUCCESS || !c->ctx) {
        free(c);
        return r ? lfi_cuda_fail(cu, r, "cuCtxGetCurrent")
                 : lfi_fail(LF_ERR_CUDA, "expected a current CUDA context on the calling "
                            "thread (the one owning the device pointer), found none");
    }
    if ((r = cu->cuCtxGetDevice(&dev)) != LF_CUDA_SUCCESS ||
        (r = cu->cuDeviceGetUuid(&uuid, dev)) != LF_CUDA_SUCCESS) {
        free(c);
        return lfi_cuda_fail(cu, r, "cuCtxGetDevice/cuDeviceGetUuid");
    }
    c->count = n;
    for (i = 0; i < n; ++i) {
        if ((r = cu->cuMemAlloc(&c->mem[i], (size_t)c->slot_bytes)) != LF_CUDA_SUCCESS ||
            (r = cu->cuIpcGetMemHandle(&mh, c->mem[i])) != LF_CUDA_SUCCESS ||
            (r = cu->cuEventCreate(&c->event[i], LF_CU_EVENT_DISABLE_TIMING |
                                                     LF_CU_EVENT_INTERPROCESS)) != LF_CUDA_SUCCESS ||
            (r = cu->cuIpcGetEventHandle(&eh, c->event[i])) != LF_CUDA_SUCCESS) {
            free_slots(c);
            return lfi_cuda_fail(cu, r, "exporting a GPU frame slot (cuMemAlloc, "
                                 "cuIpcGetMemHandle, cuEventCreate, cuIpcGetEventHandle)");
        }
        exp.mem_handle = &mh;
        exp.event_handle = &eh;
        exp.device_uuid = &uuid;
        exp.size_bytes = c->slot_bytes;
        if ((rc = lfi_seg_gpu_export(s->seg, i, &exp)) != LF_OK) {
            free_slots(c);
            return rc;
        }
    }
    s->cuda = c;
    return LF_OK;
}

LF_API int lf_publish_frame_cuda(lf_session_t *session, uint64_t device_ptr,
                                 uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                                 uint32_t pixel_format, uint64_t frame_index,
                                 uint64_t capture_ns, float yaw_rad, float pitch_rad,
                                 float roll_rad, void *cuda_stream)
{
    const lfi_cuda_t *cu = NULL;
    lfi_frame_desc_t d;
    lf_CUDA_MEMCPY2D cp;
    lf_CUresult r;
    uint32_t slot = 0, row_bytes;
    int rc;
    if (!session || !device_ptr)
        return lfi_fail(LF_ERR_INVALID_ARG, "session or device_ptr is NULL");
    if ((rc = lfi_cuda_load(&cu)) != LF_OK) return rc;
    if ((rc = lfi_check_frame(session, width, height, &row_pitch_bytes, pixel_format)) != LF_OK)
        return rc;
    if (!session->cuda && (rc = export_slots(session, cu)) != LF_OK) return rc;
    row_bytes = width * lfi_pixel_bytes(pixel_format);
    if ((uint64_t)row_bytes * height > session->cuda->slot_bytes)
        return lfi_fail(LF_ERR_FRAME_TOO_LARGE, "session %s: frame %ux%u needs %llu bytes, "
                        "expected at most %llu (the slot size)", session->name, width, height,
                        (unsigned long long)row_bytes * height,
                        (unsigned long long)session->cuda->slot_bytes);
    if ((rc = lfi_seg_gpu_acquire(session->seg, &slot)) != LF_OK) return rc;
    if (slot >= session->cuda->count)
        return lfi_fail(LF_ERR_PROTOCOL, "GPU slot index expected < %u, found %u",
                        session->cuda->count, slot);
    memset(&cp, 0, sizeof cp);
    cp.srcMemoryType = LF_CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = (lf_CUdeviceptr)device_ptr;
    cp.srcPitch = row_pitch_bytes;
    cp.dstMemoryType = LF_CU_MEMORYTYPE_DEVICE;
    cp.dstDevice = session->cuda->mem[slot];
    cp.dstPitch = row_bytes;
    cp.WidthInBytes = row_bytes;
    cp.Height = height;
    if ((r = cu->cuMemcpy2DAsync(&cp, (lf_CUstream)cuda_stream)) != LF_CUDA_SUCCESS)
        return lfi_cuda_fail(cu, r, "cuMemcpy2DAsync into the GPU slot");
    if ((r = cu->cuEventRecord(session->cuda->event[slot], (lf_CUstream)cuda_stream)) !=
        LF_CUDA_SUCCESS)
        return lfi_cuda_fail(cu, r, "cuEventRecord on the slot's IPC event");
    memset(&d, 0, sizeof d);
    d.frame_index = frame_index;
    d.capture_ns = capture_ns;
    d.width = width;
    d.height = height;
    d.row_pitch_bytes = row_bytes;
    d.pixel_format = pixel_format;
    d.yaw_rad = yaw_rad;
    d.pitch_rad = pitch_rad;
    d.roll_rad = roll_rad;
    if ((rc = lfi_seg_gpu_publish(session->seg, slot, &d)) != LF_OK) return rc;
    session->frames_published++;
    lfi_seg_host_heartbeat(session->seg);
    return LF_OK;
}
