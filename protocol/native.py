"""The one choke point between protocol's C core and Python: load it, turn codes into errors.

What it is: the cffi module (`ffi`, `lib`) built from protocol/native, and `check`, which
maps every negative `LF_E_*` code to the exception hierarchy of `errors.py` with a message
naming what was expected and found. What it is not: any logic of its own.
"""

from __future__ import annotations

from .errors import ConfigError, LiveFoleyError, ProtocolError, SessionError

try:
    from ._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise SessionError(
        "livefoley.protocol._native: expected the compiled C core, found none "
        "(rebuild with `pip install --no-build-isolation -e .`)"
    ) from exc

ERR_BYTES = 512

_ERROR_FOR_CODE: dict[int, type[LiveFoleyError]] = {
    lib.LF_E_INVALID_ARG: ConfigError,
    lib.LF_E_NOT_FOUND: SessionError,
    lib.LF_E_EXISTS: SessionError,
    lib.LF_E_OS: SessionError,
    lib.LF_E_BAD_MAGIC: ProtocolError,
    lib.LF_E_ABI: ProtocolError,
    lib.LF_E_TOO_SMALL: ProtocolError,
    lib.LF_E_LAYOUT: ProtocolError,
    lib.LF_E_PARAMS: ProtocolError,
    lib.LF_E_EMPTY: ProtocolError,
    lib.LF_E_FULL: ProtocolError,
    lib.LF_E_DESCRIPTOR: ProtocolError,
    lib.LF_E_STATE: ProtocolError,
    lib.LF_E_GPU_SLOT: ProtocolError,
    lib.LF_E_NAME: ConfigError,
    lib.LF_E_UNSUPPORTED: SessionError,
}


def strerror(code: int) -> str:
    return ffi.string(lib.lf_strerror(code)).decode()


def new_err():
    """A C buffer for an error message (`char err[ERR_BYTES]`)."""
    return ffi.new("char[]", ERR_BYTES)


def check(code: int, where: str, err=None) -> int:
    """Return `code` if it is not an error; otherwise raise the mapped exception.

    Args:
        code: return value of an `lf_*` call.
        where: who failed, e.g. "session /lf-3f2"; prefixes the message.
        err: the `char[]` the call filled with "what: expected X, found Y", if any.

    Raises:
        LiveFoleyError subclass chosen by code (ProtocolError, SessionError, ConfigError).
    """
    if code >= 0:
        return code
    detail = ffi.string(err).decode("utf-8", "replace") if err is not None else ""
    message = f"{where}: {detail or strerror(code)}"
    if detail:
        message += f" ({strerror(code)})"
    raise _ERROR_FOR_CODE.get(code, LiveFoleyError)(message)
