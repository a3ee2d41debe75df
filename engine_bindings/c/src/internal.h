/*
 * Internal declarations of liblivefoley. Not installed, not part of the ABI.
 *
 * Only bridge.c includes the protocol header (protocol/include/livefoley/protocol.h);
 * everything else sees the segment through the lfi_seg_* functions below, so protocol
 * names never meet public names in one translation unit.
 */
#ifndef LF_INTERNAL_H
#define LF_INTERNAL_H

#ifndef LF_BUILDING_LIBRARY
#  define LF_BUILDING_LIBRARY 1
#endif
#include "livefoley/livefoley.h"

#include <stddef.h>
#include <stdint.h>

#include "bridge.h"

/* Public and bridge codes are one space: pin it at compile time. */
_Static_assert(LFI_OK == LF_OK && LFI_ERR_INVALID_ARG == LF_ERR_INVALID_ARG &&
               LFI_ERR_NOT_FOUND == LF_ERR_NOT_FOUND && LFI_ERR_EXISTS == LF_ERR_EXISTS &&
               LFI_ERR_BAD_MAGIC == LF_ERR_BAD_MAGIC && LFI_ERR_ABI_MISMATCH == LF_ERR_ABI_MISMATCH &&
               LFI_ERR_BAD_LAYOUT == LF_ERR_BAD_LAYOUT && LFI_ERR_UNSUPPORTED == LF_ERR_UNSUPPORTED &&
               LFI_ERR_FRAME_TOO_LARGE == LF_ERR_FRAME_TOO_LARGE &&
               LFI_ERR_WOULD_BLOCK == LF_ERR_WOULD_BLOCK && LFI_ERR_NO_MEMORY == LF_ERR_NO_MEMORY &&
               LFI_ERR_SYSTEM == LF_ERR_SYSTEM && LFI_ERR_PEER_DEAD == LF_ERR_PEER_DEAD &&
               LFI_ERR_PROTOCOL == LF_ERR_PROTOCOL,
               "bridge.h codes must equal livefoley.h codes");


/* ---- the session handle ---- */
struct lfi_cuda_slots;

struct lf_session {
    char name[64];
    uint32_t role;
    lfi_segment_t *seg;
    lfi_process_t sidecar;
    uint64_t frames_published;
    struct lfi_cuda_slots *cuda; /* created on the first CUDA publish */
};

void lfi_cuda_release(lf_session_t *s);

/* Validate a frame's format and size; fills a zero row pitch with the packed pitch. */
int lfi_check_frame(const lf_session_t *s, uint32_t width, uint32_t height,
                    uint32_t *row_pitch_bytes, uint32_t pixel_format);

#endif
