"""The frame descriptor's projection field (issue 9: cube-map frames): it round-trips, a cube
map must be 6 square faces stacked (height = 6 x width), and a value other than 0/1 written by
a broken producer is refused at acquire, naming the field, expected and found."""

import mmap
import os
import struct

import numpy as np
import pytest

from livefoley.protocol import Projection, ProtocolError, SessionParams, attach_session, create_session
from livefoley.protocol.layout import DESC_BYTES, DESC_FIELDS

FIFO = SessionParams(ring_capacity_frames=64, frame_mode="fifo", frame_slots=4, max_frame_bytes=8 * 48 * 3)


@pytest.fixture
def pair(session_name):
    with create_session(session_name, FIFO) as host, attach_session(session_name) as side:
        yield host, side


def strip(face_px=8):
    return np.arange(6 * face_px * face_px * 3, dtype=np.int64).reshape(6 * face_px, face_px, 3).astype(np.uint8)


def test_projection_round_trips_and_defaults_to_image(pair):
    host, side = pair
    assert host.frames.publish(strip(), frame_index=0, capture_ns=0, pixel_format="RGB8",
                               projection=Projection.CUBEMAP)
    assert host.frames.publish(strip()[:8], frame_index=1, capture_ns=0, pixel_format="RGB8")
    with side.frames.acquire() as v:
        assert v.descriptor.projection is Projection.CUBEMAP and v.pixels.shape == (48, 8, 3)
        np.testing.assert_array_equal(v.pixels, strip())
    with side.frames.acquire() as v:
        assert v.descriptor.projection is Projection.IMAGE


def test_cube_map_must_be_six_stacked_square_faces(pair):
    host, _ = pair
    with pytest.raises(ProtocolError, match=r"descriptor cube map: expected height 6 x width \(6 square faces "
                                            r"stacked\), found 8x40"):
        host.frames.publish(strip()[:40], frame_index=0, capture_ns=0, pixel_format="RGB8",
                            projection=Projection.CUBEMAP)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="pokes the segment through /dev/shm")
def test_unknown_projection_is_refused_at_acquire_and_counted(pair):
    host, side = pair
    host.frames.publish(strip()[:8], frame_index=0, capture_ns=0, pixel_format="RGB8")
    host.frames.publish(strip()[:8], frame_index=1, capture_ns=0, pixel_format="RGB8")
    f = next(x for x in DESC_FIELDS if x.name == "projection")
    off = host.header().desc_offset + 0 * DESC_BYTES + f.offset
    with open(f"/dev/shm/{host.name}", "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        struct.pack_into("<I", m, off, 7)
    with pytest.raises(ProtocolError, match=r"descriptor projection: expected 0 \(image\) or 1 \(cube map\), found 7"):
        side.frames.acquire()
    assert side.counters()["frames_rejected"] == 1
    with side.frames.acquire() as v:
        assert v.descriptor.frame_index == 1
