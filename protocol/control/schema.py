"""The control-channel schema, in one place: version, limits, operations and their arguments.

What this is: the single source of truth that both the server (sidecar/control) and the
client (protocol/control/client.py) validate against. `validate_args(op, args)` is what the
server runs on every request before a handler sees it, so a handler only ever receives
arguments of the documented type and range.

What this is not: a transport (no zmq here) or the telemetry schema (telemetry.py).

Compatibility rules (after Jupyter's messaging spec): the major version changes when an
old peer would misread a message; the minor version when something is added. Unknown
*header* fields are ignored (room to grow); unknown *argument* keys are refused, because a
misspelt `configure` key silently ignored is a setting the user believes is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .codes import ErrorCode, make_error

PROTOCOL_NAME = "livefoley-control"
PROTOCOL_VERSION: tuple[int, int] = (1, 0)  # (major, minor)

MAX_MESSAGE_BYTES = 64 * 1024  # signature + header + body of one request; larger -> error reply
MAX_FRAME_BYTES = 1024 * 1024  # zmq MAXMSGSIZE: a peer sending a larger frame is disconnected
MAX_ID_CHARS = 64  # request id and client id
MAX_SESSION_CHARS = 255  # a session name (a POSIX shm name is at most 255 bytes)
MAX_PROMPT_CHARS = 1024
MAX_MODEL_CHARS = 256

HEARTBEAT_INTERVAL_S = 1.0  # Paranoid Pirate: 1 s interval ...
HEARTBEAT_LIVENESS = 3  # ... gone after 3 missed beats

CHANNEL_LAYOUTS = ("stereo", "foa", "binaural")


@dataclass(frozen=True)
class ArgSpec:
    """One argument of one operation.

    Attributes:
        name: key in the request's args map.
        kind: "int", "float" (an int is accepted and converted), "str", or "choice".
        required: whether the key must be present.
        min_value, max_value: inclusive range for int/float.
        max_chars: maximum length for str.
        choices: allowed values for "choice".
        doc: one line for the CLI and README.
    """

    name: str
    kind: str
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    max_chars: int | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def describe(self) -> str:
        """Human-readable type and range, e.g. `int in [1, 4]`."""
        if self.kind == "choice":
            return "one of " + "|".join(self.choices)
        if self.kind == "str":
            return f"str of at most {self.max_chars} characters"
        if self.kind == "int":
            return f"int in [{int(self.min_value)}, {int(self.max_value)}]"
        return f"{self.kind} in [{self.min_value:g}, {self.max_value:g}]"


@dataclass(frozen=True)
class OpSpec:
    """One operation: its name, its arguments, and whether it needs at least one of them."""

    name: str
    args: tuple[ArgSpec, ...] = ()
    doc: str = ""
    needs_some_arg: bool = False

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.args if a.name == name), None)


CONFIGURE_ARGS = (
    ArgSpec("model", "str", max_chars=MAX_MODEL_CHARS, doc="model name or checkpoint path"),
    ArgSpec("nfe", "int", min_value=1, max_value=4, doc="network function evaluations per step"),
    ArgSpec("guidance_scale", "float", min_value=0.0, max_value=20.0, doc="classifier-free guidance"),
    ArgSpec("seed", "int", min_value=0, max_value=2**63 - 1, doc="sampler seed"),
    ArgSpec("gain", "float", min_value=0.0, max_value=8.0, doc="linear output gain"),
    ArgSpec("target_latency_ms", "float", min_value=5.0, max_value=2000.0, doc="audio ring fill target"),
    ArgSpec("channel_layout", "choice", choices=CHANNEL_LAYOUTS, doc="output channels"),
    ArgSpec("prompt", "str", max_chars=MAX_PROMPT_CHARS, doc="text conditioning"),
    # The sampler's extras (models/noise_options.py, models/history_guidance.py); the model
    # checks them again (history guidance: MLP head without text only).
    ArgSpec("noise_correlation", "float", min_value=0.0, max_value=1.0,
            doc="AR(1) correlation of the sampling noise across steps"),
    ArgSpec("feedback_noise", "float", min_value=0.0, max_value=10.0,
            doc="std of the noise on the fed-back latent (the model refuses 10 itself)"),
    ArgSpec("history_guidance", "float", min_value=-4.0, max_value=4.0,
            doc="history guidance w_h (1: off; a change to or from 1 restarts the streams)"),
    ArgSpec("telemetry_rate_hz", "float", min_value=0.1, max_value=200.0, doc="telemetry messages per second"),
)

OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("hello", (ArgSpec("client_name", "str", max_chars=MAX_ID_CHARS),), "versions, capabilities, model, audio format"),
        OpSpec("configure", CONFIGURE_ARGS, "change settings (any subset)", needs_some_arg=True),
        OpSpec("start", (), "start generating"),
        OpSpec("stop", (), "stop generating (state is kept)"),
        OpSpec("reset", (), "drop model state (KV cache, streaming decoder)"),
        OpSpec("stats", (), "counters and latencies"),
        OpSpec("ping", (), "liveness; answers at once"),
        OpSpec("prompt", (ArgSpec("text", "str", required=True, max_chars=MAX_PROMPT_CHARS),
                          ArgSpec("session", "str", max_chars=MAX_SESSION_CHARS,
                                  doc="one session of the sidecar; absent: every session")),
               "set the text prompt"),
        OpSpec("shutdown", (), "stop serving and exit"),
    )
}


def _type_name(value: object) -> str:
    return type(value).__name__


def validate_args(op: str, args: object) -> dict:
    """Check a request's operation and arguments against the schema.

    Args:
        op: the operation name from the header.
        args: the decoded body (must be a map).

    Returns:
        A new dict with the arguments, ints converted to float where the schema says float.

    Raises:
        ControlProtocolError: code `unknown_op` (names the valid operations).
        ControlConfigError: code `bad_argument` (not a map, unknown/missing key, wrong type)
            or `out_of_range`; the message names the argument, expected and found values.

    Thread-safety: pure function. Real-time safe: no.
    """
    spec = OPS.get(op) if isinstance(op, str) else None
    if spec is None:
        raise make_error(ErrorCode.UNKNOWN_OP, f"unknown operation {op!r}: expected one of {', '.join(OPS)}")
    if not isinstance(args, dict):
        raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: expected args to be a map, found {_type_name(args)}")
    out: dict = {}
    for key, value in args.items():
        arg = spec.arg(key) if isinstance(key, str) else None
        if arg is None:
            known = ", ".join(a.name for a in spec.args) or "none"
            raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: unknown argument {key!r}: expected one of: {known}")
        out[key] = _check_value(op, arg, value)
    for arg in spec.args:
        if arg.required and arg.name not in out:
            raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: missing argument {arg.name!r} ({arg.describe()})")
    if spec.needs_some_arg and not out:
        known = ", ".join(a.name for a in spec.args)
        raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: expected at least one of: {known}; found none")
    return out


def _check_value(op: str, arg: ArgSpec, value: object):
    where = f"{op}: argument {arg.name!r}"
    if arg.kind in ("int", "float"):
        ok_types = (int,) if arg.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            raise make_error(ErrorCode.BAD_ARGUMENT, f"{where}: expected {arg.kind}, found {_type_name(value)} {value!r:.40}")
        if arg.kind == "float":
            value = float(value)
            if not math.isfinite(value):
                raise make_error(ErrorCode.OUT_OF_RANGE, f"{where}: expected a finite {arg.describe()}, found {value!r}")
        assert arg.min_value is not None and arg.max_value is not None
        if not (arg.min_value <= value <= arg.max_value):
            raise make_error(ErrorCode.OUT_OF_RANGE, f"{where}: expected {arg.describe()}, found {value!r}")
        return value
    if not isinstance(value, str):
        raise make_error(ErrorCode.BAD_ARGUMENT, f"{where}: expected str, found {_type_name(value)} {value!r:.40}")
    if arg.kind == "choice":
        if value not in arg.choices:
            raise make_error(ErrorCode.OUT_OF_RANGE, f"{where}: expected {arg.describe()}, found {value!r:.40}")
        return value
    assert arg.max_chars is not None
    if len(value) > arg.max_chars:
        raise make_error(ErrorCode.OUT_OF_RANGE, f"{where}: expected {arg.describe()}, found {len(value)} characters")
    return value


def parse_cli_value(op: str, key: str, text: str):
    """Turn `KEY=VALUE` text from the command line into the schema's type (no range check).

    Raises:
        ControlConfigError: unknown key, or text that is not a number where one is expected.
    """
    arg = OPS[op].arg(key)
    if arg is None:
        known = ", ".join(a.name for a in OPS[op].args)
        raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: unknown argument {key!r}: expected one of: {known}")
    try:
        if arg.kind == "int":
            return int(text, 0)
        if arg.kind == "float":
            return float(text)
    except ValueError:
        raise make_error(ErrorCode.BAD_ARGUMENT, f"{op}: argument {key!r}: expected {arg.kind}, found {text!r}") from None
    return text


__all__ = [
    "PROTOCOL_NAME",
    "PROTOCOL_VERSION",
    "MAX_MESSAGE_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_ID_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_SESSION_CHARS",
    "HEARTBEAT_INTERVAL_S",
    "HEARTBEAT_LIVENESS",
    "CHANNEL_LAYOUTS",
    "ArgSpec",
    "OpSpec",
    "OPS",
    "validate_args",
    "parse_cli_value",
]
