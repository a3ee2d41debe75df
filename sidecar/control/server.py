"""The control server: a ROUTER socket for requests, a PUB socket for telemetry and heartbeats.

What this is: sockets, endpoints, the connection file, CURVE, telemetry publication and the
heartbeat clock around the socket-free `Dispatcher`. Two ways to drive it:

- `poll(timeout_ms)` from the runtime's own loop (one thread owns everything), or
- `start()` / `stop()`: a background thread polls; `publish_telemetry` stays callable from
  the runtime's thread (the PUB socket is guarded by a lock, a full memory barrier, which
  is how zmq permits a socket to be used from more than one thread).

Security rules it enforces (README.md argues them):
- ipc:// endpoints live in a private (0700, ours) directory; the socket files are chmod 0600.
- tcp:// on a non-loopback interface is refused unless `curve_keys_dir` is given; then both
  sockets are CURVE servers and only the client keys in that directory are admitted.
- Every request is HMAC-signed with the key in the 0600 connection file.
- A live sidecar's session is never taken over: a connection file whose pid is alive is an
  error, a stale one (dead pid) is replaced.

What this is not: real-time safe. Nothing here may run on an audio callback.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import zmq

from livefoley.protocol.control.connection import (
    ConnectionInfo,
    check_private_dir,
    check_session_name,
    connection_file_path,
    default_endpoints,
    is_loopback_endpoint,
    read_connection_file,
    write_connection_file,
)
from livefoley.protocol.control.envelope import TOPIC_HEARTBEAT, TOPIC_TELEMETRY, Signer, encode_publication, new_id, new_key
from livefoley.protocol.control.schema import HEARTBEAT_INTERVAL_S, HEARTBEAT_LIVENESS, MAX_FRAME_BYTES
from livefoley.protocol.control.telemetry import validate_telemetry
from livefoley.protocol.errors import ConfigError, LiveFoleyError, SessionError

from .dispatch import Dispatcher
from .handler import ControlHandler

log = logging.getLogger(__name__)

_MAX_BATCH = 256  # messages handled per poll() before returning to the caller's loop
_SHUTDOWN_LINGER_MS = 1000  # bounded: close() never waits longer for a vanished peer


_SERVED_HERE: set[Path] = set()  # connection files this process is serving right now
_SERVED_LOCK = threading.Lock()


def _pid_alive(pid: int, connection_file: Path) -> bool:
    if pid == os.getpid():
        with _SERVED_LOCK:
            return connection_file.resolve() in _SERVED_HERE
    if os.name == "nt":  # os.kill(pid, 0) would *terminate* the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _check_endpoint(endpoint: str, curve: bool) -> None:
    if not endpoint.startswith(("ipc://", "tcp://", "inproc://")):
        raise ConfigError(f"control endpoint {endpoint!r}: expected ipc://, tcp:// or inproc://")
    if not is_loopback_endpoint(endpoint) and not curve:
        raise ConfigError(
            f"control endpoint {endpoint}: binding a non-loopback interface requires CURVE; expected "
            "curve_keys_dir (make one with `livefoley ctl keygen DIR`), found none. "
            "Use tcp://127.0.0.1:PORT for local use."
        )
    if endpoint.startswith("ipc://") and os.name != "nt":
        check_private_dir(Path(endpoint[len("ipc://") :]).parent)


class ControlServer:
    """Serves one sidecar's control channel.

    Args:
        handler: the runtime's ControlHandler.
        session_name: names the connection file and default endpoints (default
            "sidecar-<pid>").
        endpoint, telemetry_endpoint: override the defaults (connection.default_endpoints);
            a tcp port of "*" binds a free port, written into the connection file.
        connection_file: where to write the connection file (default
            connection_file_path(session_name)).
        curve_keys_dir: a `livefoley ctl keygen` directory; turns on CURVE. Required for a
            non-loopback tcp interface.
        host_client_id: the client id of the host whose heartbeats are watched.
        on_host_lost: called once when that host stays silent for liveness intervals.
        heartbeat_interval_s, heartbeat_liveness: Paranoid-Pirate parameters (1 s, 3).
        telemetry_rate_hz: most telemetry messages published per second.
        key: the HMAC key (default: fresh random 32 bytes).

    Raises:
        ConfigError: bad endpoint, non-loopback without CURVE, missing CURVE keys.
        SessionError: the session is already served by a live process, or the runtime dir
            is not private.

    Thread-safety: poll() from one thread; publish_telemetry() from any thread.
    Real-time safe: no (sockets, allocation); never call any of it from an audio callback.
    """

    def __init__(
        self,
        handler: ControlHandler,
        *,
        session_name: str | None = None,
        endpoint: str | None = None,
        telemetry_endpoint: str | None = None,
        connection_file: str | os.PathLike | None = None,
        curve_keys_dir: str | os.PathLike | None = None,
        host_client_id: str | None = None,
        on_host_lost: Callable[[], None] | None = None,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        heartbeat_liveness: int = HEARTBEAT_LIVENESS,
        telemetry_rate_hz: float = 10.0,
        key: bytes | None = None,
    ):
        for name, value in (("telemetry_rate_hz", telemetry_rate_hz), ("heartbeat_interval_s", heartbeat_interval_s)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"ControlServer {name}: expected a number > 0, found {value!r}")
        if not (isinstance(heartbeat_liveness, int) and heartbeat_liveness >= 1):
            raise ConfigError(f"ControlServer heartbeat_liveness: expected an int >= 1, found {heartbeat_liveness!r}")
        self.session_name = check_session_name(session_name or f"sidecar-{os.getpid()}")
        self.server_id = new_id()
        self.heartbeat_interval_s = heartbeat_interval_s
        self.telemetry_rate_hz = telemetry_rate_hz
        self._key = key or new_key()
        self._signer = Signer(self._key)
        curve = curve_keys_dir is not None
        if endpoint is None or telemetry_endpoint is None:
            default_ep, default_tel = default_endpoints(self.session_name)
            endpoint = endpoint or default_ep
            telemetry_endpoint = telemetry_endpoint or default_tel
        for ep in (endpoint, telemetry_endpoint):
            _check_endpoint(ep, curve)
        self.connection_file = Path(connection_file) if connection_file else connection_file_path(self.session_name)
        self._refuse_live_session()
        self.dispatcher = Dispatcher(
            handler,
            self._signer,
            server_id=self.server_id,
            host_client_id=host_client_id,
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_liveness=heartbeat_liveness,
            on_host_lost=on_host_lost,
            on_telemetry_rate=self._set_telemetry_rate,
            capabilities=("curve",) if curve else (),
        )
        self._ctx = zmq.Context()
        self._auth = None
        self._pub_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pub_seq = 0
        self._last_telemetry_ns = 0
        self._last_heartbeat_ns = 0
        self._closed = False
        try:
            curve_public = self._open_sockets(endpoint, telemetry_endpoint, curve_keys_dir)
            info = ConnectionInfo(
                endpoint=self.endpoint,
                telemetry_endpoint=self.telemetry_endpoint,
                key=self._key.hex(),
                session_name=self.session_name,
                pid=os.getpid(),
                curve_server_key=curve_public,
            )
            write_connection_file(self.connection_file, info)
            with _SERVED_LOCK:
                _SERVED_HERE.add(self.connection_file.resolve())
        except BaseException:
            self._close_sockets()
            self._release_session()
            raise
        log.info("control channel of session %r on %s (telemetry %s)", self.session_name, self.endpoint, self.telemetry_endpoint)

    # -- set-up and tear-down -----------------------------------------------------------
    def _refuse_live_session(self) -> None:
        """Take the session: an exclusive flock on `.<session>.lock` beside the connection file
        (POSIX; held until close, so two servers starting at once cannot both win, and a
        reused pid cannot fake a live one), else - on Windows - a pid liveness check."""
        self._lock_fd = None
        old = None
        if self.connection_file.exists():
            try:
                old = read_connection_file(self.connection_file)
            except LiveFoleyError as exc:
                log.warning("will replace unreadable connection file %s (%s)", self.connection_file, exc)
        if os.name != "nt":
            import fcntl

            # The lock file stays after close: unlinking it would race with a process that has
            # just opened it and would then lock a file nobody else can see.
            lock_path = self.connection_file.with_name(f".{self.connection_file.stem}.lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = f"pid {old.pid}" if old is not None else "another process"
                raise SessionError(
                    f"session {self.session_name!r}: expected no live server, found {holder} serving it "
                    f"(lock {lock_path}, connection file {self.connection_file})"
                ) from None
            self._lock_fd = fd
        elif old is not None and _pid_alive(old.pid, self.connection_file):
            raise SessionError(
                f"session {self.session_name!r}: expected no live server, found pid {old.pid} serving it "
                f"(connection file {self.connection_file})"
            )
        if old is not None:
            log.info("replacing stale connection file %s (pid %d)", self.connection_file, old.pid)

    def _release_session(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _open_sockets(self, endpoint: str, telemetry_endpoint: str, curve_keys_dir) -> str | None:
        curve_public = None
        self._router = self._ctx.socket(zmq.ROUTER)
        self._pub = self._ctx.socket(zmq.PUB)
        for s in (self._router, self._pub):
            s.linger = 0
        self._router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        self._pub.setsockopt(zmq.SNDHWM, 1000)  # a slow watcher loses messages, never stalls us
        if curve_keys_dir is not None:
            from .curve import load_server_keys, make_curve_server, start_authenticator

            public, secret = load_server_keys(curve_keys_dir)
            self._auth = start_authenticator(self._ctx, curve_keys_dir)
            for s in (self._router, self._pub):
                make_curve_server(s, public, secret)
            curve_public = public.decode("ascii")
        try:
            self._router.bind(endpoint)
            self._pub.bind(telemetry_endpoint)
        except zmq.ZMQError as exc:
            raise SessionError(f"control channel: cannot bind {endpoint} / {telemetry_endpoint}: {exc}") from None
        self._rcvtimeo_ms = -1
        self.endpoint = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.telemetry_endpoint = self._pub.getsockopt_string(zmq.LAST_ENDPOINT)
        for ep in (self.endpoint, self.telemetry_endpoint):
            if ep.startswith("ipc://") and os.name != "nt":
                os.chmod(ep[len("ipc://") :], stat.S_IRUSR | stat.S_IWUSR)
        return curve_public

    def _close_sockets(self) -> None:
        # The ROUTER gets a short bounded linger so that the reply to `shutdown`, queued a
        # moment ago, still leaves; everything else is dropped at once (LINGER 0).
        router, pub = getattr(self, "_router", None), getattr(self, "_pub", None)
        if router is not None:
            router.close(linger=_SHUTDOWN_LINGER_MS)
        if pub is not None:
            pub.close(linger=0)
        for ep in (getattr(self, "endpoint", ""), getattr(self, "telemetry_endpoint", "")):
            if ep.startswith("ipc://"):
                try:
                    os.unlink(ep[len("ipc://") :])
                except OSError:
                    pass
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self._ctx.term()

    def close(self) -> None:
        """Stop the thread (if any), close the sockets, remove our connection file. Idempotent."""
        if self._closed:
            return
        with self._pub_lock:  # a publish_telemetry in flight on another thread finishes first
            self._closed = True
        self.stop()
        self._close_sockets()
        with _SERVED_LOCK:
            _SERVED_HERE.discard(self.connection_file.resolve())
        try:
            if read_connection_file(self.connection_file).pid == os.getpid():
                self.connection_file.unlink()
        except (LiveFoleyError, OSError):
            pass
        self._release_session()
        log.info("control channel of session %r closed", self.session_name)

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- serving ------------------------------------------------------------------------
    def poll(self, timeout_ms: int = 0) -> int:
        """Handle the requests that arrive within `timeout_ms` (at most a batch), publish a
        heartbeat when one is due, and check the host's liveness.

        Returns:
            The number of messages handled.

        Thread-safety: call from one thread only (the one that owns the server).
        Real-time safe: no; with timeout_ms=0 it never blocks, and handles at most 256
        messages per call, so it can sit in a frame loop.
        """
        handled = 0
        # The first receive blocks up to timeout_ms (RCVTIMEO), the rest do not: no zmq_poll
        # on the request path, which measured slower than a blocking receive.
        flags = 0 if timeout_ms > 0 else zmq.NOBLOCK
        if timeout_ms > 0 and timeout_ms != self._rcvtimeo_ms:
            self._router.rcvtimeo = self._rcvtimeo_ms = timeout_ms
        while handled < _MAX_BATCH:
            try:
                frames = self._router.recv_multipart(flags, copy=True)
            except zmq.Again:
                break
            flags = zmq.NOBLOCK
            handled += 1
            reply = self.dispatcher.handle(frames)
            if reply is not None:
                try:
                    self._router.send_multipart(reply, zmq.NOBLOCK)
                except zmq.ZMQError as exc:  # peer gone or its queue full: drop, keep serving
                    log.debug("reply dropped: %s", exc)
        now = time.monotonic_ns()
        if now - self._last_heartbeat_ns >= self.heartbeat_interval_s * 1e9:
            self._last_heartbeat_ns = now
            self._publish(TOPIC_HEARTBEAT, {"t_ns": now})
        self.dispatcher.check_host(now)
        return handled

    def serve_forever(self, tick_ms: int = 50) -> None:
        """poll() until a shutdown request or stop()."""
        while not self._stop.is_set() and not self.dispatcher.shutdown_requested:
            self.poll(tick_ms)

    def start(self) -> None:
        """Serve from a background thread (daemon) until stop() or a shutdown request."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve_forever, name="livefoley-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (joins it; returns within one tick)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    @property
    def shutdown_requested(self) -> bool:
        """True once a client's `shutdown` has been answered; the runtime should then exit."""
        return self.dispatcher.shutdown_requested

    @property
    def host_alive(self) -> bool | None:
        """None until the host is first heard; then True/False by its heartbeats."""
        return self.dispatcher.host_alive

    @property
    def last_heard_ns(self) -> dict[str, int]:
        """client id -> time.monotonic_ns() of its last authentic message."""
        return dict(self.dispatcher.last_heard_ns)

    # -- telemetry ----------------------------------------------------------------------
    def _set_telemetry_rate(self, rate_hz: float) -> None:
        self.telemetry_rate_hz = rate_hz

    def publish_telemetry(self, body: dict) -> bool:
        """Publish one telemetry message (telemetry.py schema) unless the rate limit says wait.

        Returns:
            True if published, False if dropped by the rate limit or after close (cheap: no
            validation).

        Raises:
            ConfigError: the body does not follow the telemetry schema (a runtime bug).

        Thread-safety: any thread. Real-time safe: no (allocates, takes a lock).
        """
        now = time.monotonic_ns()
        if self._closed or now - self._last_telemetry_ns < 1e9 / self.telemetry_rate_hz:
            return False
        self._last_telemetry_ns = now
        self._publish(TOPIC_TELEMETRY, validate_telemetry(body))
        return True

    def _publish(self, topic: bytes, body: dict) -> None:
        with self._pub_lock:
            if self._closed:
                return
            self._pub_seq += 1
            frames = encode_publication(self._signer, topic, self._pub_seq, self.server_id, body)
            try:
                self._pub.send_multipart(frames, zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.debug("publication dropped: %s", exc)


__all__ = ["ControlServer"]
