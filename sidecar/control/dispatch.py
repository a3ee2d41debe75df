"""The control server's message path, without sockets: frames in, reply frames (or nothing) out.

What this is: every check a request passes, in order, and the choice of reply. Kept apart
from the sockets so that tens of thousands of fuzzed messages can be pushed through the very
code the server runs, in microseconds each (tests/control/test_fuzz.py).

Order of checks (cheapest and least trusting first):
  1. framing: a delimiter with exactly signature, header, body after it -> malformed_message
  2. size: at most MAX_MESSAGE_BYTES                                     -> message_too_large
  3. signature: HMAC-SHA256 under the session key                        -> dropped, counted
  4. replay: a signature seen in the last `replay_window` messages       -> dropped, counted
  5. header: msgpack map, version major, id, op                          -> not_msgpack /
                                                                            malformed_message /
                                                                            unsupported_version
  6. op and arguments against the schema                                 -> unknown_op /
                                                                            bad_argument /
                                                                            out_of_range
  7. the handler; its exceptions become codes (codes.code_for_exception)

Steps 1-2 answer without authentication (the answer carries no data beyond the error and the
request id, if one can be read); 3-4 follow Jupyter: an unauthenticated message gets no reply
at all, so a peer without the key learns nothing and cannot make the sidecar work for it.

What this is not: thread-safe; the server calls it from one thread.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from livefoley.protocol.control.codes import ControlError, ErrorCode, code_for_exception
from livefoley.protocol.control.envelope import (
    SIGNATURE_SCHEME,
    BadSignature,
    Reply,
    Signer,
    check_size,
    decode_request,
    encode_reply,
    pack,
    peek_request_id,
    split_frames,
)
from livefoley.protocol.control.schema import (
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_LIVENESS,
    MAX_MESSAGE_BYTES,
    OPS,
    PROTOCOL_NAME,
    PROTOCOL_VERSION,
    validate_args,
)

from .handler import ControlHandler

log = logging.getLogger(__name__)

_HANDLER_OPS = ("start", "stop", "reset", "stats", "shutdown")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livefoley")
    except PackageNotFoundError:
        return "unknown"


class Dispatcher:
    """Turns received ROUTER frames into reply frames, and tracks who was heard when.

    Args:
        handler: the runtime's ControlHandler.
        signer: the session's Signer.
        server_id: this server instance's id (a restarted sidecar has a new one).
        host_client_id: the client id of the host (engine) whose heartbeats are watched.
        heartbeat_interval_s, heartbeat_liveness: host is lost after liveness * interval
            without a message from it.
        on_host_lost: called once (from the polling thread) when the host goes silent.
        on_telemetry_rate: called with telemetry_rate_hz when `configure` sets it.
        capabilities: extra capability strings for `hello` (e.g. "curve").
        replay_window: how many recent signatures are remembered to refuse replays.
        max_clients: bound on the last-heard table (oldest evicted first).

    Thread-safety: one thread at a time.
    """

    def __init__(
        self,
        handler: ControlHandler,
        signer: Signer,
        *,
        server_id: str,
        host_client_id: str | None = None,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        heartbeat_liveness: int = HEARTBEAT_LIVENESS,
        on_host_lost: Callable[[], None] | None = None,
        on_telemetry_rate: Callable[[float], None] | None = None,
        capabilities: tuple[str, ...] = (),
        replay_window: int = 4096,
        max_clients: int = 256,
    ):
        self.handler = handler
        self.signer = signer
        self.server_id = server_id
        self.host_client_id = host_client_id
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_liveness = heartbeat_liveness
        self.on_host_lost = on_host_lost
        self.on_telemetry_rate = on_telemetry_rate
        self.capabilities = tuple(capabilities)
        self.max_clients = max_clients
        self._seen: collections.deque[bytes] = collections.deque(maxlen=replay_window)
        self._seen_set: set[bytes] = set()
        self.last_heard_ns: dict[str, int] = {}
        self.host_alive: bool | None = None  # None until the host is first heard
        self.shutdown_requested = False
        self.counters = collections.Counter()
        self._last_warn_ns = 0

    # -- the message path ---------------------------------------------------------------
    def handle(self, frames: list[bytes]) -> list[bytes] | None:
        """Process one message as a ROUTER received it ([identity..., DELIMITER, sig, header, body]).

        Returns:
            The reply frames to send (routing prefix included), or None to send nothing.

        Never raises for any input (a bug in a handler becomes an internal_error reply).
        """
        self.counters["received"] += 1
        if not frames:
            return None
        try:
            prefix, sig, header, body = split_frames(frames)
            if not prefix:
                self.counters["dropped_unroutable"] += 1
                return None
        except ControlError as exc:
            return self._error(frames[:1], None, None, exc)
        rid = peek_request_id(header)
        try:
            check_size(sig, header, body)
        except ControlError as exc:
            return self._error(prefix, rid, None, exc)
        try:
            self.signer.verify(sig, header, body)
        except BadSignature as exc:
            self.counters["rejected_signature"] += 1
            self._warn(f"dropped a message: {exc}")
            return None
        if sig in self._seen_set:
            self.counters["rejected_replay"] += 1
            self._warn("dropped a replayed message (signature seen before)")
            return None
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(sig)
        self._seen_set.add(sig)
        try:
            req = decode_request(header, body)
        except ControlError as exc:
            return self._error(prefix, rid, None, exc)
        self._heard(req.client)
        try:
            args = validate_args(req.op, req.args)
            result = self._run(req.op, args, req.version, req.client)
            reply = Reply(id=req.id, op=req.op, ok=True, result=result, server=self.server_id)
            frames_out = encode_reply(self.signer, reply)
        except Exception as exc:
            return self._error(prefix, req.id, req.op, exc)
        self.counters["replies_ok"] += 1
        return prefix + frames_out

    def _run(self, op: str, args: dict, version: tuple[int, int], client: str) -> dict:
        if op == "ping":
            return {"t_ns": time.monotonic_ns()}
        if op == "hello":
            if version != PROTOCOL_VERSION:
                log.warning(
                    "client %s (%s) speaks protocol %d.%d, server %d.%d: minor versions differ",
                    client, args.get("client_name", "?"), *version, *PROTOCOL_VERSION,
                )
            info = self._checked(op, self.handler.hello())
            caps = sorted(set(info.get("capabilities", [])) | {"telemetry", "heartbeat", *self.capabilities})
            return {
                **info,
                "capabilities": caps,
                "protocol": PROTOCOL_NAME,
                "protocol_version": list(PROTOCOL_VERSION),
                "server": self.server_id,
                "ops": list(OPS),
                "signature_scheme": SIGNATURE_SCHEME,
                "max_message_bytes": MAX_MESSAGE_BYTES,
                "heartbeat_interval_ms": int(self.heartbeat_interval_s * 1000),
                "livefoley_version": _package_version(),
            }
        if op == "configure":
            rate = args.pop("telemetry_rate_hz", None)
            # The handler first: a request it refuses changes nothing, the rate included.
            result = self._checked(op, self.handler.configure(args)) if args else {}
            if rate is not None and self.on_telemetry_rate is not None:
                self.on_telemetry_rate(rate)
            return {**result, "telemetry_rate_hz": rate} if rate is not None else result
        if op == "prompt":
            if "session" in args:
                return self._checked(op, self.handler.prompt(args["text"], args["session"]))
            return self._checked(op, self.handler.prompt(args["text"]))
        if op == "stats":
            return {**self._checked(op, self.handler.stats()), "control": self.control_stats()}
        assert op in _HANDLER_OPS, op
        result = self._checked(op, getattr(self.handler, op)())
        if op == "shutdown":
            self.shutdown_requested = True
        return result

    @staticmethod
    def _checked(op: str, result: object) -> dict:
        if not isinstance(result, dict):
            raise TypeError(f"handler.{op} returned {type(result).__name__}, expected dict")
        pack(result)  # fail here (internal_error) rather than after a half-sent reply
        return result

    def _error(self, prefix: list[bytes], rid: str | None, op: str | None, exc: BaseException) -> list[bytes]:
        code = code_for_exception(exc)
        if code == ErrorCode.INTERNAL_ERROR.value:
            log.error("control op %r failed inside the server", op, exc_info=exc)
            message = f"{op}: internal error in the sidecar ({type(exc).__name__}: {exc})"[:500]
        else:
            message = str(exc)[:1000]
        self.counters["replies_error"] += 1
        self.counters[f"error.{code}"] += 1
        reply = Reply(id=rid, op=op, ok=False, code=code, message=message, server=self.server_id)
        return prefix + encode_reply(self.signer, reply)

    def _warn(self, text: str) -> None:
        now = time.monotonic_ns()
        if now - self._last_warn_ns > 1_000_000_000:  # at most one line a second: no log flood
            self._last_warn_ns = now
            log.warning("%s (%d so far)", text, self.counters["rejected_signature"] + self.counters["rejected_replay"])

    # -- liveness -----------------------------------------------------------------------
    def _heard(self, client: str) -> None:
        self.last_heard_ns[client] = time.monotonic_ns()
        if len(self.last_heard_ns) > self.max_clients:
            oldest = min(self.last_heard_ns, key=self.last_heard_ns.__getitem__)
            del self.last_heard_ns[oldest]
        if client == self.host_client_id and self.host_alive is not True:
            if self.host_alive is False:
                log.info("host %r is back", client)
            self.host_alive = True

    def check_host(self, now_ns: int | None = None) -> bool | None:
        """Update `host_alive` from the last-heard table; call on_host_lost on True -> False.

        Returns:
            host_alive: None (no host configured or not yet heard), True, or False.
        """
        if self.host_client_id is None or self.host_alive is not True:
            return self.host_alive
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        silent_s = (now_ns - self.last_heard_ns.get(self.host_client_id, 0)) / 1e9
        if silent_s > self.heartbeat_interval_s * self.heartbeat_liveness:
            self.host_alive = False
            log.warning("host %r silent for %.1f s (> %d heartbeats): lost", self.host_client_id, silent_s, self.heartbeat_liveness)
            if self.on_host_lost is not None:
                try:
                    self.on_host_lost()
                except Exception:
                    log.exception("on_host_lost callback failed")
        return self.host_alive

    def control_stats(self) -> dict:
        """Counters of the control channel (the `control` section of `stats`)."""
        now = time.monotonic_ns()
        return {
            **{k: int(v) for k, v in self.counters.items()},
            "clients": {c: round((now - t) / 1e6, 1) for c, t in self.last_heard_ns.items()},  # ms since heard
            "host_alive": self.host_alive,
        }


__all__ = ["Dispatcher"]
