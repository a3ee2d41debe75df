"""Every bad-header case gets its own error naming what was expected and what was found."""

import mmap
import os
import struct

import pytest

from livefoley.protocol import (
    ConfigError,
    ProtocolError,
    SessionError,
    SessionParams,
    attach_session,
    create_session,
)
from livefoley.protocol.layout import ABI_VERSION, HEADER_FIELDS, MAGIC

SHM_DIR = "/dev/shm"
pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs POSIX /dev/shm")
FIELDS = {f.name: f for f in HEADER_FIELDS}
SMALL = SessionParams(ring_capacity_frames=1024, max_frame_bytes=4096)


def _poke(name: str, field: str, value) -> None:
    """Overwrite one header field through an independent mapping of the segment file."""
    f = FIELDS[field]
    with open(os.path.join(SHM_DIR, name), "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        struct.pack_into("<" + f.fmt, m, f.offset, value)


def _raw_segment(name: str, data: bytes) -> None:
    fd = os.open(os.path.join(SHM_DIR, name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@pytest.fixture
def owner(session_name):
    with create_session(session_name, SMALL) as s:
        yield s


def test_missing_segment(session_name):
    with pytest.raises(SessionError) as e:
        attach_session(session_name + "-absent")
    assert "expected a segment named" in str(e.value) and "found none" in str(e.value)


def test_bad_magic(owner):
    _poke(owner.name, "magic", 0x1122334455667788)
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name)
    assert f"expected 0x{MAGIC:016x}" in str(e.value)
    assert "found 0x1122334455667788" in str(e.value)


def test_abi_version_mismatch(owner):
    _poke(owner.name, "abi_version", ABI_VERSION + 1)
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name)
    assert f"ABI version: expected {ABI_VERSION}, found {ABI_VERSION + 1}" in str(e.value)


def test_segment_smaller_than_header_says(owner, session_name):
    total = owner.header().total_bytes
    with open(os.path.join(SHM_DIR, owner.name), "rb") as fh:
        head = fh.read(8192)
    truncated = session_name + "-cut"
    _raw_segment(truncated, head)
    try:
        with pytest.raises(ProtocolError) as e:
            attach_session(truncated)
        assert f"expected at least {total} bytes" in str(e.value)
        assert "found 8192" in str(e.value)
    finally:
        os.unlink(os.path.join(SHM_DIR, truncated))


def test_segment_smaller_than_the_header_itself(owner, session_name):
    with open(os.path.join(SHM_DIR, owner.name), "rb") as fh:
        head = fh.read(100)
    tiny = session_name + "-tiny"
    _raw_segment(tiny, head)
    try:
        with pytest.raises(ProtocolError) as e:
            attach_session(tiny)
        assert "expected 1024 bytes" in str(e.value) and "mapping 100" in str(e.value)
    finally:
        os.unlink(os.path.join(SHM_DIR, tiny))


def test_empty_segment(session_name):
    _raw_segment(session_name, b"")
    try:
        with pytest.raises(ProtocolError) as e:
            attach_session(session_name)
        assert "expected at least 1024 bytes, found 0" in str(e.value)
    finally:
        os.unlink(os.path.join(SHM_DIR, session_name))


def test_offsets_out_of_range(owner):
    total = owner.header().total_bytes
    _poke(owner.name, "audio_offset", total + 4096)
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name)
    assert f"audio region: expected offset+size within 1024..{total}" in str(e.value)
    assert f"found offset {total + 4096}" in str(e.value)


def test_region_overlapping_another(owner):
    h = owner.header()
    _poke(owner.name, "pixels_offset", h.audio_offset)  # in range, but on top of the ring
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name)
    assert f"pixel region: expected offset {h.pixels_offset}" in str(e.value)
    assert f"found offset {h.audio_offset}" in str(e.value)


def test_corrupt_parameter_in_header(owner):
    _poke(owner.name, "ring_capacity_frames", 1000)
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name)
    assert "ring_capacity_frames: expected a power of two" in str(e.value)
    assert "found 1000" in str(e.value)


def test_channel_count_mismatch(owner):
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name, expect_channels=6)
    assert "channels: expected 6, found 2" in str(e.value)


def test_sample_rate_mismatch(owner):
    with pytest.raises(ProtocolError) as e:
        attach_session(owner.name, expect_sample_rate_hz=44100)
    assert "sample_rate_hz: expected 44100, found 48000" in str(e.value)


def test_matching_expectations_attach(owner):
    with attach_session(owner.name, expect_sample_rate_hz=48000, expect_channels=2) as s:
        assert s.params == SMALL
        assert not s.is_owner


def test_create_over_an_existing_segment(owner):
    with pytest.raises(SessionError) as e:
        create_session(owner.name, SMALL)
    assert "exists" in str(e.value)


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 200])
def test_bad_segment_name(bad):
    with pytest.raises(ConfigError):
        create_session(bad, SMALL)


@pytest.mark.parametrize("field, value, expected", [
    ("ring_capacity_frames", 1000, "expected a power of two, found 1000"),
    ("ring_capacity_frames", 8, "expected 16..16777216, found 8"),
    ("channels", 0, "expected 1..64, found 0"),
    ("sample_rate_hz", 100, "expected 8000..384000, found 100"),
    ("frame_mode", "newest", "expected 'latest' or 'fifo', found 'newest'"),
    ("frame_slots", 2, "expected 3..64, found 2"),
    ("max_frame_bytes", -1, "expected 0..1073741824, found -1"),
])
def test_bad_session_params(field, value, expected):
    with pytest.raises(ConfigError) as e:
        SessionParams(**{field: value})
    assert field in str(e.value) and expected in str(e.value)


def test_fifo_allows_a_single_slot():
    assert SessionParams(frame_mode="fifo", frame_slots=1).frame_slots == 1
