"""The session segment's byte layout, mirrored from `include/livefoley/protocol.h`.

What it is: field tables (name, byte offset, struct format) for the header, the frame
descriptor and the GPU slot, and a reader that turns the header bytes into a dict. The C
header is the single source of truth; tests/protocol/test_layout.py compiles a C program
that prints every offset and size and compares them with these tables, field by field.
What it is not: an implementation of any atomic operation. Counters that change while a
peer runs are read through the C functions (`lf_counters_read`), not from these tables.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

MAGIC = 0x594C4F4645564C49
ABI_VERSION = 1
CACHE_LINE_BYTES = 64
PAGE_BYTES = 4096
HEADER_BYTES = 1024
ENDPOINT_BYTES = 256


class Field(NamedTuple):
    name: str
    offset: int
    fmt: str  # struct format, little-endian implied

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


def _fields(spec: list[tuple[str, int, str]]) -> tuple[Field, ...]:
    return tuple(Field(*row) for row in spec)


# lf_header_t: 16 cache lines; the comment names the one side that writes each line.
HEADER_FIELDS = _fields([
    # line 0: identity (immutable)
    ("magic", 0, "Q"), ("abi_version", 8, "I"), ("header_bytes", 12, "I"),
    ("total_bytes", 16, "Q"), ("created_by_pid", 24, "q"), ("created_ns", 32, "q"),
    ("pad0", 40, "24s"),
    # line 1: parameters (immutable)
    ("sample_rate_hz", 64, "I"), ("channels", 68, "I"), ("ring_capacity_frames", 72, "I"),
    ("frame_mode", 76, "I"), ("slot_count", 80, "I"), ("reserved1", 84, "I"),
    ("max_frame_bytes", 88, "Q"), ("pixel_slot_stride_bytes", 96, "Q"), ("pad1", 104, "24s"),
    # line 2: region table (immutable)
    ("audio_offset", 128, "Q"), ("audio_bytes", 136, "Q"), ("desc_offset", 144, "Q"),
    ("desc_bytes", 152, "Q"), ("gpu_offset", 160, "Q"), ("gpu_bytes", 168, "Q"),
    ("pixels_offset", 176, "Q"), ("pixels_bytes", 184, "Q"),
    # line 3: state (either side), endpoint seqlock (endpoint writer)
    ("state", 192, "I"), ("endpoint_seq", 196, "I"), ("pad3", 200, "56s"),
    # lines 4-7
    ("control_endpoint", 256, "256s"),
    # line 8: host heartbeat; line 9: sidecar heartbeat
    ("host_heartbeat_ns", 512, "q"), ("host_pid", 520, "q"), ("pad8", 528, "48s"),
    ("sidecar_heartbeat_ns", 576, "q"), ("sidecar_pid", 584, "q"), ("pad9", 592, "48s"),
    # line 10: audio producer; line 11: audio consumer
    ("audio_write_count", 640, "Q"), ("audio_overflow_frames", 648, "Q"), ("pad10", 656, "48s"),
    ("audio_read_count", 704, "Q"), ("underrun_frames", 712, "Q"), ("underrun_events", 720, "Q"),
    ("audio_reads", 728, "Q"), ("pad11", 736, "32s"),
    # line 12: mailbox (both sides, exchange only)
    ("mailbox", 768, "I"), ("pad12", 772, "60s"),
    # line 13: frame producer; line 14: frame consumer; line 15: reserved
    ("latest_back", 832, "I"), ("reserved13", 836, "I"), ("fifo_write_count", 840, "Q"),
    ("frames_published", 848, "Q"), ("frames_dropped", 856, "Q"), ("frames_refused", 864, "Q"),
    ("pad13", 872, "24s"),
    ("latest_front", 896, "I"), ("reserved14", 900, "I"), ("fifo_read_count", 904, "Q"),
    ("frames_acquired", 912, "Q"), ("frames_rejected", 920, "Q"), ("pad14", 928, "32s"),
    ("pad15", 960, "64s"),
])

# lf_frame_desc_t: one per slot, 64 bytes.
DESC_FIELDS = _fields([
    ("frame_index", 0, "Q"), ("capture_ns", 8, "q"), ("width", 16, "I"), ("height", 20, "I"),
    ("row_pitch_bytes", 24, "I"), ("pixel_format", 28, "I"), ("location", 32, "I"),
    ("slot_index", 36, "I"), ("yaw_rad", 40, "f"), ("pitch_rad", 44, "f"), ("roll_rad", 48, "f"),
    ("projection", 52, "I"), ("fence_value", 56, "Q"),
])
DESC_BYTES = 64

# lf_gpu_slot_t: one per slot, 256 bytes.
GPU_SLOT_FIELDS = _fields([
    ("kind", 0, "I"), ("reserved0", 4, "I"), ("byte_size", 8, "Q"),
    ("cuda_mem_handle", 16, "64s"), ("cuda_event_handle", 80, "64s"), ("nt_handle", 144, "Q"),
    ("fence_value", 152, "Q"), ("device_uuid", 160, "16s"), ("device_luid", 176, "8s"),
    ("pad", 184, "72s"),
])
GPU_SLOT_BYTES = 256

STRUCT_SIZES = {"lf_header_t": HEADER_BYTES, "lf_frame_desc_t": DESC_BYTES,
                "lf_gpu_slot_t": GPU_SLOT_BYTES}
STRUCT_FIELDS = {"lf_header_t": HEADER_FIELDS, "lf_frame_desc_t": DESC_FIELDS,
                 "lf_gpu_slot_t": GPU_SLOT_FIELDS}


def _check_contiguous(fields: tuple[Field, ...], total: int) -> None:
    at = 0
    for f in fields:
        assert f.offset == at, f"layout table gap or overlap at {f.name}: {f.offset} != {at}"
        at += f.size
    assert at == total, f"layout table covers {at} bytes, struct has {total}"


for _name, _fields_of in STRUCT_FIELDS.items():
    _check_contiguous(_fields_of, STRUCT_SIZES[_name])

_HEADER_STRUCT = struct.Struct("<" + "".join(f.fmt for f in HEADER_FIELDS))


def unpack_header(buffer, offset: int = 0) -> dict[str, object]:
    """Decode the 1024 header bytes at `offset` of `buffer` into {field: value}, pads dropped.

    A plain byte snapshot: immutable fields are exact; counters may be mid-update.
    """
    values = _HEADER_STRUCT.unpack_from(buffer, offset)
    return {f.name: v for f, v in zip(HEADER_FIELDS, values) if not f.name.startswith("pad")}
