"""The Python control client: one DEALER socket for requests, one SUB socket for telemetry.

What this is: the only module of `livefoley.protocol` that imports zmq (import it explicitly:
`from livefoley.protocol.control.client import ControlClient`). A request is validated
against the same schema the server uses, signed, sent, and answered within `timeout_s`;
an error reply becomes the typed exception its code names (codes.py).

Why DEALER and not REQ: a REQ socket whose reply never came is stuck in its send/recv state
machine (EFSM) until recreated; a DEALER just sends again, and a late reply is recognised by
its request id and dropped. After a timeout the DEALER is closed (LINGER 0) and made anew
(zguide's Lazy Pirate), so a request queued for a dead sidecar is thrown away rather than
delivered to its successor minutes later. (Not ZMQ_IMMEDIATE: with it, a reply that arrived
just before the server closed - the reply to `shutdown` - was lost two times in three.)

What this is not: thread-safe. Use one client per thread (the heartbeat thread has its own
socket for exactly this reason).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import zmq

from ..errors import LiveFoleyError, ProtocolError, SessionError
from .codes import ControlTimeout, make_error
from .connection import ConnectionInfo, connection_file_path, read_connection_file
from .envelope import (
    TOPIC_HEARTBEAT,
    TOPIC_TELEMETRY,
    BadSignature,
    Request,
    Signer,
    decode_publication,
    decode_reply,
    encode_request,
    new_id,
)
from .schema import HEARTBEAT_INTERVAL_S, HEARTBEAT_LIVENESS, MAX_FRAME_BYTES, PROTOCOL_VERSION, validate_args

log = logging.getLogger(__name__)


def _resolve(target, session_name, connection_file) -> Path:
    if connection_file is not None:
        return Path(connection_file)
    if session_name is not None:
        return connection_file_path(session_name)
    if target is None:
        raise SessionError("control client: expected a connection file or a session name, found neither")
    text = os.fspath(target)
    if isinstance(target, Path) or os.sep in text or text.endswith(".json"):
        return Path(text)
    return connection_file_path(text)


def _apply_curve(sock: zmq.Socket, info: ConnectionInfo, curve_keys_dir: Path | None) -> None:
    if info.curve_server_key is None:
        return
    if curve_keys_dir is None:
        raise SessionError(
            f"session {info.session_name!r} requires CURVE: expected curve_keys_dir with client.key_secret, found none"
        )
    import zmq.auth

    secret_file = Path(curve_keys_dir) / "client.key_secret"
    if not secret_file.exists():
        raise SessionError(f"CURVE keys: expected {secret_file} (made by `livefoley ctl keygen`), found no such file")
    public, secret = zmq.auth.load_certificate(secret_file)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = info.curve_server_key.encode("ascii")


class ControlClient:
    """Client of one sidecar's control channel.

    Args:
        target: a connection file path or a session name.
        session_name / connection_file: the same, explicitly.
        timeout_s: how long one request waits for its reply.
        wait_s: how long to wait for the connection file to appear (client-first start).
        client_id: the id the server tracks liveness by (the host uses its configured id).
        curve_keys_dir: directory holding client.key_secret when the sidecar uses CURVE.

    Raises:
        SessionError: no connection file (after `wait_s`), or CURVE keys missing.
        ProtocolError: the connection file is malformed or of another protocol major.

    Thread-safety: one thread per client (zmq sockets are not thread-safe); the heartbeat
    thread uses its own socket. Real-time safe: no (blocks up to timeout_s per request).
    """

    def __init__(
        self,
        target: str | os.PathLike | None = None,
        *,
        session_name: str | None = None,
        connection_file: str | os.PathLike | None = None,
        timeout_s: float = 3.0,
        wait_s: float = 0.0,
        client_id: str | None = None,
        curve_keys_dir: str | os.PathLike | None = None,
    ):
        self.path = _resolve(target, session_name, connection_file)
        self.timeout_s = float(timeout_s)
        self.client_id = client_id or new_id()
        self.curve_keys_dir = Path(curve_keys_dir) if curve_keys_dir is not None else None
        self._ctx = zmq.Context()
        self._sock: zmq.Socket | None = None
        self._sub: zmq.Socket | None = None
        self._hb_thread: threading.Thread | None = None
        self._hb_stop = threading.Event()
        self.server_alive: bool | None = None  # set by the heartbeat thread
        self.last_heard_ns = 0
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._load()
                break
            except SessionError as exc:
                if time.monotonic() >= deadline or "CURVE" in str(exc):
                    self._ctx.term()
                    raise
                time.sleep(0.05)
            except BaseException:
                self._ctx.term()
                raise

    # -- connection ---------------------------------------------------------------------
    def _load(self) -> None:
        self.info = read_connection_file(self.path)
        self._mtime_ns = os.stat(self.path).st_mtime_ns
        self._signer = Signer(self.info.key_bytes)
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = self._new_dealer()

    def _new_dealer(self, info: ConnectionInfo | None = None) -> zmq.Socket:
        info = info or self.info
        sock = self._ctx.socket(zmq.DEALER)
        try:
            sock.linger = 0
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            _apply_curve(sock, info, self.curve_keys_dir)
            sock.connect(info.endpoint)
        except BaseException:
            sock.close(linger=0)  # an open socket would make Context.term() wait forever
            raise
        return sock

    def _file_changed(self) -> bool:
        try:
            return os.stat(self.path).st_mtime_ns != self._mtime_ns
        except FileNotFoundError:
            return False

    def close(self) -> None:
        """Stop the heartbeat thread and close the sockets (LINGER 0: never blocks)."""
        self.stop_heartbeat()
        for s in (self._sock, self._sub):
            if s is not None:
                s.close(linger=0)
        self._sock = self._sub = None
        self._ctx.term()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------
    def call(self, op: str, args: dict | None = None, *, validate: bool = True, timeout_s: float | None = None) -> dict:
        """Send one request and return its result.

        Args:
            op: operation name (schema.OPS).
            args: its arguments; checked against the schema first unless validate=False.
            timeout_s: overrides the client's timeout for this call.

        Raises:
            ControlError subclasses: the server's error reply (typed by its code).
            ControlTimeout: no authentic reply in time (once after re-reading a changed
                connection file, e.g. a restarted sidecar with a new key).
        """
        args = dict(args or {})
        if validate:
            args = validate_args(op, args)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if self._file_changed():  # a restarted sidecar: new key, maybe new endpoint (one stat)
            log.info("connection file %s changed; reconnecting", self.path)
            self._load()
        reply = self._exchange(self._sock, op, args, timeout)
        if reply is None and self._file_changed():
            log.info("connection file %s changed; reconnecting", self.path)
            self._load()
            reply = self._exchange(self._sock, op, args, timeout)
        if reply is None:
            self._sock.close(linger=0)  # Lazy Pirate: drop whatever is still queued
            self._sock = self._new_dealer()
            raise ControlTimeout(
                f"{op}: expected a reply from {self.info.endpoint} within {timeout:g} s, found none "
                f"(sidecar gone or busy, or its key differs from {self.path})"
            )
        if not reply.ok:
            raise make_error(reply.code or "internal_error", reply.message or "")
        return reply.result or {}

    def _exchange(self, sock: zmq.Socket, op: str, args: dict, timeout_s: float, signer: Signer | None = None):
        # Blocking recv with RCVTIMEO rather than Socket.poll: pyzmq builds a Poller per
        # poll() call, which cost more than the rest of a round trip.
        signer = signer or self._signer
        try:
            while True:  # late replies to earlier, timed-out requests
                sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            pass
        req = Request(op=op, args=args, id=new_id(), client=self.client_id)
        deadline = time.monotonic() + timeout_s
        try:
            sock.send_multipart(encode_request(signer, req), zmq.NOBLOCK)
        except zmq.Again:  # send queue full: the sidecar has not been reading
            return None
        while (left := deadline - time.monotonic()) > 0:
            sock.rcvtimeo = max(1, int(left * 1000))
            try:
                frames = sock.recv_multipart()
            except zmq.Again:
                break
            try:
                reply = decode_reply(signer, frames)
            except BadSignature:
                log.warning("dropped a reply with a bad signature from %s", self.info.endpoint)
                continue
            if reply.id is not None and reply.id != req.id:
                continue
            self.last_heard_ns = time.monotonic_ns()
            return reply
        return None

    def send_frames(self, frames: list[bytes]) -> None:
        """Send raw frames (tests and fuzzers; no signing, no validation)."""
        self._sock.send_multipart(frames)

    def recv_reply(self, timeout_s: float | None = None):
        """Receive and decode one reply (after `send_frames`); None on timeout."""
        if not self._sock.poll(int((timeout_s or self.timeout_s) * 1000), zmq.POLLIN):
            return None
        return decode_reply(self._signer, self._sock.recv_multipart())

    def hello(self, client_name: str = "livefoley-client") -> dict:
        """Versions, capabilities, model info and audio format of the sidecar.

        A different protocol minor version is logged as a warning (the major version was
        already checked on the reply's header).
        """
        result = self.call("hello", {"client_name": client_name})
        theirs = tuple(result.get("protocol_version", ()))
        if theirs != PROTOCOL_VERSION:
            log.warning("sidecar speaks protocol %s, this client %s: minor versions differ", theirs, PROTOCOL_VERSION)
        return result

    def configure(self, **settings) -> dict:
        """Change any subset of the settings in schema.CONFIGURE_ARGS; returns the new config."""
        return self.call("configure", settings)

    def start(self) -> dict:
        return self.call("start")

    def stop(self) -> dict:
        return self.call("stop")

    def reset(self) -> dict:
        return self.call("reset")

    def stats(self) -> dict:
        return self.call("stats")

    def prompt(self, text: str, session: str | None = None) -> dict:
        """Set the prompt of every session of the sidecar, or of `session` alone."""
        return self.call("prompt", {"text": text} if session is None else {"text": text, "session": session})

    def shutdown(self) -> dict:
        return self.call("shutdown")

    def ping(self, timeout_s: float | None = None) -> float:
        """Round-trip time of one ping in seconds."""
        t0 = time.perf_counter()
        self.call("ping", timeout_s=timeout_s)
        return time.perf_counter() - t0

    # -- liveness -----------------------------------------------------------------------
    def check_alive(self, interval_s: float = HEARTBEAT_INTERVAL_S, liveness: int = HEARTBEAT_LIVENESS) -> bool:
        """Ping up to `liveness` times, `interval_s` each: True at the first answer.

        Bounded: returns within about liveness * interval_s seconds.
        """
        for _ in range(liveness):
            try:
                self.ping(timeout_s=interval_s)
                return True
            except ControlTimeout:
                continue
        return False

    def start_heartbeat(
        self,
        on_lost: Callable[[], None] | None = None,
        *,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        liveness: int = HEARTBEAT_LIVENESS,
    ) -> None:
        """Ping every `interval_s` from a background thread with its own socket.

        After `liveness` consecutive unanswered pings `server_alive` becomes False and
        `on_lost` is called once (from the heartbeat thread); an answer sets it True again.
        The server also counts these pings as this client's heartbeat (host liveness).
        """
        if self._hb_thread is not None:
            return
        self._hb_stop.clear()
        first = self._new_dealer()

        def run() -> None:
            # Own socket, own copy of the connection info: never touches the owner's socket.
            sock, misses, info, signer = first, 0, self.info, self._signer
            try:
                while not self._hb_stop.is_set():
                    t0 = time.monotonic()
                    reply = self._exchange(sock, "ping", {}, interval_s, signer)
                    if reply is not None and reply.ok:
                        misses = 0
                        self.server_alive = True
                    else:
                        misses += 1
                        try:  # a restarted sidecar has a new key: follow its connection file
                            info = read_connection_file(self.path)
                            signer = Signer(info.key_bytes)
                        except LiveFoleyError:
                            pass
                        sock.close(linger=0)  # never let stale pings pile up for a successor
                        sock = self._new_dealer(info)
                        if misses == liveness and self.server_alive is not False:
                            self.server_alive = False
                            log.warning("sidecar %s missed %d heartbeats: gone", self.info.endpoint, misses)
                            if on_lost is not None:
                                on_lost()
                    self._hb_stop.wait(max(0.0, interval_s - (time.monotonic() - t0)))
            finally:
                sock.close(linger=0)

        self._hb_thread = threading.Thread(target=run, name="livefoley-ctl-heartbeat", daemon=True)
        self._hb_thread.start()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat thread (joins it)."""
        if self._hb_thread is not None:
            self._hb_stop.set()
            self._hb_thread.join()
            self._hb_thread = None

    # -- telemetry ----------------------------------------------------------------------
    def watch(
        self,
        *,
        heartbeats: bool = False,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        liveness: int = HEARTBEAT_LIVENESS,
    ) -> Iterator[dict]:
        """Yield telemetry bodies (telemetry.py) as they arrive, each with its header `seq`.

        With `heartbeats=True` heartbeat bodies are yielded too (with "kind": "heartbeat").
        The sidecar publishes a heartbeat every second, so silence for liveness * interval_s
        means it is gone: the iterator then raises ControlTimeout.
        """
        if self._sub is None:
            self._sub = self._ctx.socket(zmq.SUB)
            self._sub.linger = 0
            self._sub.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            _apply_curve(self._sub, self.info, self.curve_keys_dir)
            self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_TELEMETRY)
            self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_HEARTBEAT)
            self._sub.connect(self.info.telemetry_endpoint)
        silence_ms = int(interval_s * liveness * 1000)
        while True:
            if not self._sub.poll(silence_ms, zmq.POLLIN):
                raise ControlTimeout(
                    f"watch: expected telemetry or a heartbeat from {self.info.telemetry_endpoint} "
                    f"every {interval_s:g} s, found none for {silence_ms / 1000:g} s (sidecar gone)"
                )
            try:
                kind, header, body = decode_publication(self._signer, self._sub.recv_multipart())
            except ProtocolError as exc:  # BadSignature is one too
                log.warning("dropped a publication: %s", exc)
                continue
            self.last_heard_ns = time.monotonic_ns()
            if kind == "heartbeat" and not heartbeats:
                continue
            yield {**body, "seq": header.get("seq"), "kind": kind}


__all__ = ["ControlClient"]
