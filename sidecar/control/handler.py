"""The interface the sidecar runtime implements to answer control requests.

What this is: `ControlHandler`, a `typing.Protocol` with one method per operation. The
server (server.py) has already checked every argument against the schema in
`livefoley.protocol.control.schema` before a method is called, so a handler never sees an
unknown key, a wrong type, or a value out of the documented range.

What this is not: the protocol. `ping` never reaches the handler (the server answers it, so
a liveness check does not depend on the runtime), and the server adds the protocol fields to
`hello` and a `control` section to `stats`.

Errors: raise from `livefoley.protocol.errors`; the server turns them into error replies with
a stable code (ConfigError -> config_rejected, SessionError -> bad_state, DeviceError ->
device_error, CheckpointError -> checkpoint_error; anything else -> internal_error, logged
with its traceback, and the server keeps serving). Messages should name expected and found
values: `start: expected state 'idle', found 'running'`.

Every method returns a dict of msgpack-serialisable values (str keys; int, float, str,
bool, None, lists, dicts, bytes).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ControlHandler(Protocol):
    """One method per control operation (except ping, which the server answers itself).

    Thread-safety: called from the thread that runs `ControlServer.poll` (the runtime's own
    loop, or the server's background thread after `start()`), one call at a time.
    Real-time safe: no; never call it from an audio callback.
    """

    def hello(self) -> dict:
        """Describe the sidecar: {"model": {...}, "audio": {"sample_rate_hz", "channels",
        "channel_layout", "block_frames"}, "capabilities": [str, ...], "version": str}."""
        ...

    def configure(self, settings: dict) -> dict:
        """Apply a validated, non-empty subset of schema.CONFIGURE_ARGS (telemetry_rate_hz is
        consumed by the server and never appears here); return the full configuration now in
        force. All or nothing: check every key before applying any, so that a refused request
        (raise a LiveFoleyError) leaves the configuration as it was; the server then leaves
        the telemetry rate alone too."""
        ...

    def start(self) -> dict:
        """Start generating; return e.g. {"state": "running"}."""
        ...

    def stop(self) -> dict:
        """Stop generating, keeping model state; return e.g. {"state": "idle"}."""
        ...

    def reset(self) -> dict:
        """Drop streaming state (KV cache, decoder state, counters of the current run)."""
        ...

    def stats(self) -> dict:
        """Counters and latency summaries (same names as the telemetry schema where they overlap)."""
        ...

    def prompt(self, text: str, session: str | None = None) -> dict:
        """Set the text prompt (at most schema.MAX_PROMPT_CHARS characters; "" clears it) of
        every session, or of `session` alone (an unknown name: ConfigError). The sidecar
        replies {"prompt", "session", "applied", "state": applied|pending|refused|superseded,
        "reason", "request_id"}."""
        ...

    def shutdown(self) -> dict:
        """Prepare to exit. The server replies, then sets `shutdown_requested` and (in thread
        mode) stops; the runtime exits when it sees the flag."""
        ...


__all__ = ["ControlHandler"]
