"""The one exception hierarchy of LiveFoley.

Every part raises these (and only these) for bad outside input, so a host can catch
`LiveFoleyError` at one place. Messages say what was expected, what was found, and where:
`session /lf-3f2: expected ABI 3, found 2`.

This module is pure Python and imports nothing heavy: engine bindings and the sidecar both
import it.
"""


class LiveFoleyError(Exception):
    """Base class of every error LiveFoley raises on purpose."""


class ProtocolError(LiveFoleyError):
    """A peer broke the contract: bad header, version, layout, message or descriptor."""


class SessionError(LiveFoleyError):
    """A session cannot be created, attached or served (missing, stale, dead peer)."""


class ConfigError(LiveFoleyError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class CheckpointError(LiveFoleyError):
    """A weights file is missing, truncated, of a future schema, or does not fit the config."""


class DeviceError(LiveFoleyError):
    """A compute device (CUDA, driver, IPC handle) is missing or refuses an operation."""


def cuda_result(result, what: str):
    """Unwrap a cuda-python (`cuda.bindings`) `(err, *values)` result.

    Returns None, the one value, or a tuple of values on success; raises DeviceError naming
    `what` and the error code otherwise. Used by both sides of the GPU frame path (the host's
    exporter and the sidecar's importer), so both word CUDA failures the same way.
    """
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise DeviceError(f"{what}: expected cudaSuccess, found {err!r}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


__all__ = [
    "LiveFoleyError",
    "ProtocolError",
    "SessionError",
    "ConfigError",
    "CheckpointError",
    "DeviceError",
    "cuda_result",
]
