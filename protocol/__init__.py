"""livefoley.protocol: the contract between engine and sidecar, and nothing else.

Importing this package pulls in neither torch nor zmq (tested).
"""

from .errors import (
    CheckpointError,
    ConfigError,
    DeviceError,
    LiveFoleyError,
    ProtocolError,
    SessionError,
)
from .frames import FrameDescriptor, FramePool, FrameView, GpuSlotInfo
from .layout import ABI_VERSION, MAGIC
from .mapping import unlink_segment
from .params import (
    FrameLocation,
    FrameMode,
    GpuSlotKind,
    Projection,
    PeerState,
    PixelFormat,
    Role,
    SessionParams,
    SessionState,
)
from .ring import AudioRing
from .session import PeerStatus, Session, SessionHeader, attach_session, create_session

__all__ = [
    "LiveFoleyError",
    "ProtocolError",
    "SessionError",
    "ConfigError",
    "CheckpointError",
    "DeviceError",
    "ABI_VERSION",
    "MAGIC",
    "AudioRing",
    "FrameDescriptor",
    "FrameLocation",
    "FrameMode",
    "FramePool",
    "FrameView",
    "GpuSlotInfo",
    "GpuSlotKind",
    "Projection",
    "PeerState",
    "PeerStatus",
    "PixelFormat",
    "Role",
    "Session",
    "SessionHeader",
    "SessionParams",
    "SessionState",
    "attach_session",
    "create_session",
    "unlink_segment",
]
