"""Session parameters and the enums of the session segment.

What it is: the frozen `SessionParams` a host creates a session with, and the Python names
of the C enums in `livefoley/protocol.h` (values equal, tested). What it is not: the layout
(see `layout.py`) or any shared memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import ConfigError


class FrameMode(enum.IntEnum):
    """How frame slots are handed over (`lf_frame_mode_t`)."""

    LATEST = 0  # triple-buffered mailbox: the producer never waits, the newest frame wins
    FIFO = 1  # bounded queue with back-pressure: nothing is dropped


class PixelFormat(enum.IntEnum):
    """Pixel formats of a frame (`lf_pixel_format_t`), 8 bits per channel."""

    RGBA8 = 1
    BGRA8 = 2
    RGB8 = 3

    @property
    def bytes_per_pixel(self) -> int:
        return 3 if self is PixelFormat.RGB8 else 4


class FrameLocation(enum.IntEnum):
    """Where a frame's pixels live (`lf_frame_location_t`)."""

    HOST = 0  # the segment's host pixel slot of the same index
    GPU = 1  # the registered GPU slot of the same index


class Projection(enum.IntEnum):
    """How a frame's pixels map to directions (`lf_projection_t`)."""

    IMAGE = 0  # as rendered: a camera view or an equirectangular panorama
    CUBEMAP = 1  # 6 square faces stacked vertically (S x 6S): front, back, left, right, up, down


class GpuSlotKind(enum.IntEnum):
    """How a GPU slot is shared (`lf_gpu_slot_kind_t`)."""

    NONE = 0
    CUDA_IPC = 1
    D3D12_NT_HANDLE = 2
    D3D11_NT_HANDLE = 3


class SessionState(enum.IntEnum):
    """Lifecycle of a session as either side announces it (`lf_session_state_t`)."""

    CREATED = 0
    READY = 1
    RUNNING = 2
    STOPPING = 3
    CLOSED = 4


class Role(enum.IntEnum):
    """Which side writes a heartbeat (`lf_role_t`)."""

    HOST = 0
    SIDECAR = 1


class PeerState(enum.IntEnum):
    """What a heartbeat says about a peer (`lf_peer_state_t`)."""

    ABSENT = 0  # never sent a heartbeat
    ALIVE = 1
    STALE = 2  # the process exists, but its heartbeat is older than the limit
    DEAD = 3  # the recorded pid no longer exists (or is an unreaped zombie)


MIN_SAMPLE_RATE_HZ = 8000
MAX_SAMPLE_RATE_HZ = 384000
MAX_CHANNELS = 64
MIN_RING_FRAMES = 16
MAX_RING_FRAMES = 1 << 24
MAX_SLOTS = 64
MAX_FRAME_BYTES = 1 << 30


@dataclass(frozen=True)
class SessionParams:
    """What a host creates a session with. Immutable once the segment exists.

    Attributes:
        sample_rate_hz: audio sample rate of the ring.
        channels: interleaved float32 channels per audio frame.
        ring_capacity_frames: ring size in frames; a power of two (16 .. 2**24).
        frame_mode: "latest" (live games: newest frame wins) or "fifo" (every frame).
        frame_slots: slots in the frame pool; latest needs >= 3 (uses 3), fifo >= 1.
        max_frame_bytes: host pixel bytes per slot (0: GPU-only frames).
        control_endpoint: ZeroMQ endpoint written into the header at creation ("" = none).
    """

    sample_rate_hz: int = 48000
    channels: int = 2
    ring_capacity_frames: int = 16384
    frame_mode: str = "latest"
    frame_slots: int = 3
    max_frame_bytes: int = 640 * 480 * 4
    control_endpoint: str = ""

    def __post_init__(self) -> None:
        _check_range("sample_rate_hz", self.sample_rate_hz, MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ)
        _check_range("channels", self.channels, 1, MAX_CHANNELS)
        cap = self.ring_capacity_frames
        _check_range("ring_capacity_frames", cap, MIN_RING_FRAMES, MAX_RING_FRAMES)
        if cap & (cap - 1):
            raise ConfigError(f"ring_capacity_frames: expected a power of two, found {cap}")
        if self.frame_mode not in ("latest", "fifo"):
            raise ConfigError(f"frame_mode: expected 'latest' or 'fifo', found {self.frame_mode!r}")
        min_slots = 3 if self.frame_mode == "latest" else 1
        _check_range("frame_slots", self.frame_slots, min_slots, MAX_SLOTS)
        _check_range("max_frame_bytes", self.max_frame_bytes, 0, MAX_FRAME_BYTES)
        if not isinstance(self.control_endpoint, str):
            raise ConfigError(
                f"control_endpoint: expected str, found {type(self.control_endpoint).__name__}"
            )
        if len(self.control_endpoint.encode("utf-8")) >= 256:
            raise ConfigError(
                "control_endpoint: expected at most 255 bytes of UTF-8, "
                f"found {len(self.control_endpoint.encode('utf-8'))}"
            )

    @property
    def mode(self) -> FrameMode:
        return FrameMode.LATEST if self.frame_mode == "latest" else FrameMode.FIFO

    @property
    def ring_latency_ms(self) -> float:
        """Audio the full ring holds, in milliseconds."""
        return 1000.0 * self.ring_capacity_frames / self.sample_rate_hz


def _check_range(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected an int in {low}..{high}, found {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected {low}..{high}, found {value}")


def parse_pixel_format(value: PixelFormat | str | int) -> PixelFormat:
    """Accept a PixelFormat, its name ("RGBA8") or its value; name the valid ones otherwise."""
    if type(value) is PixelFormat:
        return value
    try:
        if isinstance(value, str):
            return PixelFormat[value.upper()]
        return PixelFormat(value)
    except (KeyError, ValueError):
        valid = ", ".join(f.name for f in PixelFormat)
        raise ConfigError(f"pixel_format: expected one of {valid}, found {value!r}") from None


def parse_role(value: Role | str | int) -> Role:
    """Accept a Role, "host"/"sidecar", or its value."""
    try:
        if isinstance(value, str):
            return Role[value.upper()]
        return Role(value)
    except (KeyError, ValueError):
        raise ConfigError(f"role: expected 'host' or 'sidecar', found {value!r}") from None
