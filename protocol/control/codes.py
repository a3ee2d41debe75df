"""Error codes of the control channel, and the exceptions that carry them.

What this is: the stable, enumerated `code` of an error reply, and the one place where a
code becomes an exception (client side) or an exception becomes a code (server side), as
python-sounddevice converts C error codes at one choke point.

What this is not: a transport. Nothing here imports zmq.

Codes are strings on the wire (stable names read better in a log than numbers); a code is
never renamed or reused. New codes may be added in a minor protocol version; a client that
meets a code it does not know raises `ControlProtocolError` with that code.
"""

from __future__ import annotations

import enum

from ..errors import CheckpointError, ConfigError, DeviceError, LiveFoleyError, ProtocolError, SessionError


class ErrorCode(str, enum.Enum):
    """The stable error codes of control replies (the `code` field of an error body)."""

    MALFORMED_MESSAGE = "malformed_message"  # wrong frame count, missing delimiter, bad header
    MESSAGE_TOO_LARGE = "message_too_large"  # over MAX_MESSAGE_BYTES
    NOT_MSGPACK = "not_msgpack"  # a frame that is not one msgpack value
    UNSUPPORTED_VERSION = "unsupported_version"  # protocol major version differs
    UNKNOWN_OP = "unknown_op"  # operation not in the schema
    BAD_ARGUMENT = "bad_argument"  # wrong type, unknown key, or missing required key
    OUT_OF_RANGE = "out_of_range"  # right type, value outside the documented range
    CONFIG_REJECTED = "config_rejected"  # handler refused a valid-looking configuration
    BAD_STATE = "bad_state"  # not possible in the current state (e.g. start before model)
    DEVICE_ERROR = "device_error"  # the compute device refused
    CHECKPOINT_ERROR = "checkpoint_error"  # the model weights could not be loaded
    INTERNAL_ERROR = "internal_error"  # a bug in the server; it is logged and it keeps serving


class ControlError(LiveFoleyError):
    """Mixin base of every error that travels as a control error reply.

    Attributes:
        code: the `ErrorCode` value (a str) this error carries on the wire.
    """

    code: str = ErrorCode.INTERNAL_ERROR.value

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class ControlProtocolError(ControlError, ProtocolError):
    """A message broke the envelope or schema (malformed, too large, version, unknown op)."""


class ControlConfigError(ControlError, ConfigError):
    """An argument has the wrong type, is unknown, missing, or out of range, or was refused."""


class ControlSessionError(ControlError, SessionError):
    """The operation is not possible in the sidecar's current state."""


class ControlDeviceError(ControlError, DeviceError):
    """The sidecar's compute device refused the operation."""


class ControlCheckpointError(ControlError, CheckpointError):
    """The sidecar could not load the requested model."""


class ControlTimeout(SessionError):
    """No (authentic) reply arrived in time: the server is gone, busy, or has another key."""


_CLASS_FOR_CODE: dict[str, type[ControlError]] = {
    ErrorCode.MALFORMED_MESSAGE.value: ControlProtocolError,
    ErrorCode.MESSAGE_TOO_LARGE.value: ControlProtocolError,
    ErrorCode.NOT_MSGPACK.value: ControlProtocolError,
    ErrorCode.UNSUPPORTED_VERSION.value: ControlProtocolError,
    ErrorCode.UNKNOWN_OP.value: ControlProtocolError,
    ErrorCode.BAD_ARGUMENT.value: ControlConfigError,
    ErrorCode.OUT_OF_RANGE.value: ControlConfigError,
    ErrorCode.CONFIG_REJECTED.value: ControlConfigError,
    ErrorCode.BAD_STATE.value: ControlSessionError,
    ErrorCode.DEVICE_ERROR.value: ControlDeviceError,
    ErrorCode.CHECKPOINT_ERROR.value: ControlCheckpointError,
    ErrorCode.INTERNAL_ERROR.value: ControlProtocolError,
}


def make_error(code: ErrorCode | str, message: str) -> ControlError:
    """The exception for an error reply: the class follows the code, the code is kept.

    An unknown code (from a newer server) becomes `ControlProtocolError` carrying it.

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    code_str = code.value if isinstance(code, ErrorCode) else str(code)
    cls = _CLASS_FOR_CODE.get(code_str, ControlProtocolError)
    return cls(message, code=code_str)


def code_for_exception(exc: BaseException) -> str:
    """The wire code for an exception a handler raised (server side, one choke point).

    A `ControlError` keeps its own code; the library hierarchy maps by class; anything else
    is a server bug and becomes `internal_error`.

    Thread-safety: pure function. Real-time safe: no.
    """
    if isinstance(exc, ControlError):
        return exc.code
    if isinstance(exc, ConfigError):
        return ErrorCode.CONFIG_REJECTED.value
    if isinstance(exc, SessionError):
        return ErrorCode.BAD_STATE.value
    if isinstance(exc, DeviceError):
        return ErrorCode.DEVICE_ERROR.value
    if isinstance(exc, CheckpointError):
        return ErrorCode.CHECKPOINT_ERROR.value
    if isinstance(exc, ProtocolError):
        return ErrorCode.MALFORMED_MESSAGE.value
    return ErrorCode.INTERNAL_ERROR.value


__all__ = [
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
]
