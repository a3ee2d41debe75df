"""A session: one named shared-memory segment holding the audio ring and the frame slots.

What it is: `create_session` (the host/engine side: creates, owns and finally unlinks the
segment) and `attach_session` (the sidecar or an observer: validates the header, never
unlinks, never registers with multiprocessing's resource tracker), and `Session` with the
header snapshot, counters, heartbeats, state and control endpoint.
What it is not: the control channel (protocol/control) or the sidecar's scheduling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import ConfigError, ProtocolError
from .frames import FramePool
from .layout import ENDPOINT_BYTES, unpack_header
from .mapping import SegmentMapping
from .native import check, ffi, lib, new_err
from .params import FrameMode, PeerState, Role, SessionParams, SessionState, parse_role
from .ring import AudioRing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionHeader:
    """A snapshot of the header's fields (counters may move right after it is taken)."""

    magic: int
    abi_version: int
    header_bytes: int
    total_bytes: int
    created_by_pid: int
    created_ns: int
    sample_rate_hz: int
    channels: int
    ring_capacity_frames: int
    frame_mode: FrameMode
    slot_count: int
    max_frame_bytes: int
    pixel_slot_stride_bytes: int
    audio_offset: int
    audio_bytes: int
    desc_offset: int
    desc_bytes: int
    gpu_offset: int
    gpu_bytes: int
    pixels_offset: int
    pixels_bytes: int
    state: SessionState
    control_endpoint: str
    host_heartbeat_ns: int
    host_pid: int
    sidecar_heartbeat_ns: int
    sidecar_pid: int


@dataclass(frozen=True)
class PeerStatus:
    """What the heartbeat of one side says.

    Attributes:
        role: whose heartbeat this is.
        state: ABSENT (never beat), ALIVE, STALE (older than the limit), DEAD (pid gone).
        pid: the pid recorded with the last heartbeat (0 when absent).
        age_s: seconds since the last heartbeat (None when absent).
    """

    role: Role
    state: PeerState
    pid: int
    age_s: float | None

    @property
    def alive(self) -> bool:
        return self.state is PeerState.ALIVE


class Session:
    """One process's handle on a session segment.

    Thread-safety: `audio` and `frames` follow their SPSC contracts; the rest may be called
    from any one thread at a time.
    Real-time safe: no; the engine's audio thread uses the C API directly.
    """

    def __init__(self, mapping: SegmentMapping, *, where: str) -> None:
        self._mapping = mapping
        self.name = mapping.name
        self._where = where
        fields = unpack_header(mapping.mmap)
        self._closed = False
        self.params = SessionParams(
            sample_rate_hz=fields["sample_rate_hz"], channels=fields["channels"],
            ring_capacity_frames=fields["ring_capacity_frames"],
            frame_mode="latest" if fields["frame_mode"] == FrameMode.LATEST else "fifo",
            frame_slots=fields["slot_count"], max_frame_bytes=fields["max_frame_bytes"],
            control_endpoint=self.control_endpoint,  # as it stood when this handle opened
        )
        self.audio = AudioRing(mapping.base, mapped_bytes=mapping.size, where=where)
        self.frames = FramePool(mapping, fields, where=where)

    @property
    def is_owner(self) -> bool:
        """True for the side that created the segment (it unlinks on close)."""
        return self._mapping.owner

    @property
    def segment_bytes(self) -> int:
        return self._mapping.size

    def _base(self):
        if self._closed:
            raise ProtocolError(f"{self._where}: expected an open session, found it closed")
        return self._mapping.base

    def header(self) -> SessionHeader:
        """Snapshot every header field (pads dropped)."""
        f = unpack_header(self._mapping.mmap)
        keep = {k: f[k] for k in SessionHeader.__dataclass_fields__ if k in f}
        keep["frame_mode"] = FrameMode(f["frame_mode"])
        keep["state"] = SessionState(self._state_value())
        keep["control_endpoint"] = self.control_endpoint
        return SessionHeader(**keep)

    def counters(self) -> dict[str, int]:
        """Every counter of the segment (loaded with acquire), plus the ring's fill level."""
        out = ffi.new("lf_counters_t *")
        lib.lf_counters_read(self._base(), out)
        names = [name for name, _ in ffi.typeof("lf_counters_t").fields]
        result = {name: int(getattr(out, name)) for name in names}
        result["audio_fill_frames"] = self.audio.fill_frames()
        return result

    def beat(self, role: Role | str) -> None:
        """Record a heartbeat (now, this pid) for `role` ("host" or "sidecar").

        Thread-safety: one thread per role. Real-time safe: the C call is (two stores).
        """
        lib.lf_heartbeat(self._base(), int(parse_role(role)), lib.lf_now_ns(), lib.lf_current_pid())

    def peer_status(self, role: Role | str, stale_after_s: float = 1.0) -> PeerStatus:
        """Judge `role`'s heartbeat: absent, alive, stale (older than stale_after_s) or dead.

        Thread-safety: any thread. Real-time safe: no (kill(pid, 0), reads /proc on Linux).
        """
        role = parse_role(role)
        out = ffi.new("lf_peer_t *")
        check(lib.lf_peer_status(self._base(), int(role), lib.lf_now_ns(),
                                 int(stale_after_s * 1e9), out), f"{self._where}: peer status")
        state = PeerState(out.state)
        age = None if state is PeerState.ABSENT else out.age_ns / 1e9
        return PeerStatus(role=role, state=state, pid=int(out.pid), age_s=age)

    def _state_value(self) -> int:
        return int(lib.lf_state_get(self._base()))

    @property
    def state(self) -> SessionState:
        value = self._state_value()
        if value not in SessionState._value2member_map_:
            raise ProtocolError(f"{self._where}: state: expected 0..4, found {value}")
        return SessionState(value)

    @state.setter
    def state(self, value: SessionState | int) -> None:
        if int(value) not in SessionState._value2member_map_:
            raise ConfigError(f"{self._where}: state: expected 0..4, found {value!r}")
        lib.lf_state_set(self._base(), int(value))

    @property
    def control_endpoint(self) -> str:
        buf = ffi.new("char[]", ENDPOINT_BYTES)
        check(lib.lf_endpoint_get(self._base(), buf, ENDPOINT_BYTES),
              f"{self._where}: control endpoint (writer busy)")
        return ffi.string(buf).decode("utf-8", "replace")

    @control_endpoint.setter
    def control_endpoint(self, endpoint: str) -> None:
        data = endpoint.encode("utf-8")
        if len(data) >= ENDPOINT_BYTES or b"\0" in data:
            raise ConfigError(
                f"{self._where}: control_endpoint: expected at most {ENDPOINT_BYTES - 1} bytes "
                f"without NUL, found {len(data)}"
            )
        check(lib.lf_endpoint_set(self._base(), data), f"{self._where}: control endpoint")

    def close(self, unlink: bool = True) -> None:
        """Unmap; the owner also removes the name (attachers never unlink). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.audio._detach()
        self.frames._detach()
        owner = self._mapping.owner
        self._mapping.close(unlink=unlink and owner)
        log.info("session %s: closed (%s)", self.name,
                 "owner, unlinked" if unlink and owner else "detached")

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Session({self.name!r}, owner={self.is_owner}, closed={self._closed})"


def create_session(name: str, params: SessionParams = SessionParams()) -> Session:
    """Create and initialise the segment `name` (exclusive, mode 0600). Host side.

    Raises:
        SessionError: a segment of that name exists, or the OS refused.
        ConfigError: bad name or parameters.

    Thread-safety: any thread; the returned Session follows its own contract.
    Real-time safe: no (creates, sizes, maps and zeroes shared memory).
    """
    if not isinstance(params, SessionParams):
        raise ConfigError(f"params: expected SessionParams, found {type(params).__name__}")
    c_params = ffi.new("lf_params_t *", {
        "sample_rate_hz": params.sample_rate_hz, "channels": params.channels,
        "ring_capacity_frames": params.ring_capacity_frames, "frame_mode": int(params.mode),
        "slot_count": params.frame_slots, "max_frame_bytes": params.max_frame_bytes,
    })
    err = new_err()
    where = f"session {name!r}"
    check(lib.lf_params_check(c_params, err, len(err)), where, err)
    size = lib.lf_segment_size(c_params)
    mapping = SegmentMapping(name, create_bytes=size)
    try:
        check(lib.lf_segment_init(mapping.base, mapping.size, c_params), f"{where}: init")
        if params.control_endpoint:
            check(lib.lf_endpoint_set(mapping.base, params.control_endpoint.encode("utf-8")),
                  f"{where}: control endpoint")
        session = Session(mapping, where=where)
    except BaseException:
        mapping.close(unlink=True)
        raise
    log.info("session %s: created (%d bytes, %s)", name, size, params)
    return session


def attach_session(name: str, *, expect_sample_rate_hz: int | None = None,
                   expect_channels: int | None = None) -> Session:
    """Attach to an existing segment, validating its header. Sidecar/observer side.

    Args:
        name: the segment's name as the host created it.
        expect_sample_rate_hz: refuse a session whose ring runs at another rate.
        expect_channels: refuse a session with another channel count.

    Raises:
        SessionError: no segment of that name (or the OS refused).
        ProtocolError: bad magic, ABI mismatch, a segment smaller than its header says,
            region offsets out of range, or a sample rate / channel count other than the
            expected one; each message names expected and found values.

    Thread-safety: any thread.
    Real-time safe: no (opens and maps shared memory).
    """
    where = f"session {name!r}"
    mapping = SegmentMapping(name)
    try:
        err = new_err()
        check(lib.lf_segment_validate(mapping.base, mapping.size, err, len(err)), where, err)
        fields = unpack_header(mapping.mmap)
        for label, expected, found in (("sample_rate_hz", expect_sample_rate_hz, fields["sample_rate_hz"]),
                                       ("channels", expect_channels, fields["channels"])):
            if expected is not None and expected != found:
                raise ProtocolError(f"{where}: {label}: expected {expected}, found {found}")
        session = Session(mapping, where=where)
    except BaseException:
        mapping.close(unlink=False)
        raise
    log.info("session %s: attached (%d bytes)", name, mapping.size)
    return session


__all__ = ["PeerStatus", "Session", "SessionHeader", "attach_session",
           "create_session"]
