"""livefoley.protocol.control: the control channel's schema, envelope and connection files.

Re-exports only. zmq is imported by `client.py` alone, and only when `ControlClient` is
first touched (`from livefoley.protocol.control import ControlClient` works, lazily), so
`import livefoley.protocol.control` stays free of zmq and torch. See README.md.
"""

from .codes import (
    ControlCheckpointError,
    ControlConfigError,
    ControlDeviceError,
    ControlError,
    ControlProtocolError,
    ControlSessionError,
    ControlTimeout,
    ErrorCode,
    code_for_exception,
    make_error,
)
from .connection import (
    ConnectionInfo,
    check_session_name,
    connection_file_path,
    default_endpoints,
    is_loopback_endpoint,
    read_connection_file,
    runtime_dir,
    write_connection_file,
)
from .envelope import BadSignature, Reply, Request, Signer
from .schema import (
    CHANNEL_LAYOUTS,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_LIVENESS,
    MAX_MESSAGE_BYTES,
    OPS,
    PROTOCOL_VERSION,
    validate_args,
)
from .telemetry import STAGES, format_telemetry, validate_telemetry


def __getattr__(name: str):
    if name == "ControlClient":  # lazy: importing the client imports zmq
        from .client import ControlClient

        return ControlClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ControlClient",
    "ErrorCode",
    "ControlError",
    "ControlProtocolError",
    "ControlConfigError",
    "ControlSessionError",
    "ControlDeviceError",
    "ControlCheckpointError",
    "ControlTimeout",
    "make_error",
    "code_for_exception",
    "ConnectionInfo",
    "check_session_name",
    "connection_file_path",
    "default_endpoints",
    "is_loopback_endpoint",
    "read_connection_file",
    "runtime_dir",
    "write_connection_file",
    "BadSignature",
    "Reply",
    "Request",
    "Signer",
    "CHANNEL_LAYOUTS",
    "HEARTBEAT_INTERVAL_S",
    "HEARTBEAT_LIVENESS",
    "MAX_MESSAGE_BYTES",
    "OPS",
    "PROTOCOL_VERSION",
    "validate_args",
    "STAGES",
    "format_telemetry",
    "validate_telemetry",
]
