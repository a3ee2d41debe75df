"""Where a sidecar's control channel lives: the per-user runtime dir and the connection file.

What this is: the rules both sides follow to find each other without configuration.

- Runtime dir: `$XDG_RUNTIME_DIR/livefoley` when XDG_RUNTIME_DIR is set (systemd makes it
  per-user, 0700), else `/tmp/livefoley-$UID`; on Windows `%LOCALAPPDATA%\\livefoley\\run`.
  Created 0700; if it exists it must be a real directory (not a symlink) owned by this user
  with no group/other permission bits, else SessionError - another user could have planted
  it to read our keys or swap our sockets.
- Connection file: `<runtime dir>/<session>.json`, mode 0600, written atomically (temp file
  + rename), JSON (as Jupyter's): endpoint, telemetry_endpoint, key (hex), signature_scheme,
  protocol, protocol_version, pid, session_name, curve_server_key (z85 or null).
- Default endpoints: `ipc://<runtime dir>/<session>.ctl` and `.tel`; on Windows
  `tcp://127.0.0.1:*` (the bound port is written into the connection file).

What this is not: a socket. Nothing here imports zmq.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError, ProtocolError, SessionError
from .schema import PROTOCOL_NAME, PROTOCOL_VERSION

_SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IPC_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS; keep a margin
IS_WINDOWS = sys.platform == "win32"


def check_session_name(name: str) -> str:
    """Return `name` if it is a valid session name, else raise ConfigError."""
    if not isinstance(name, str) or not _SESSION_RE.match(name):
        raise ConfigError(f"session name: expected 1-64 of [A-Za-z0-9._-] starting alphanumeric, found {name!r}")
    return name


def runtime_dir(create: bool = True) -> Path:
    """The per-user runtime directory, created 0700 and checked.

    Raises:
        SessionError: the directory exists but is a symlink, not a directory, owned by
            another user, or open to group/others (the message gives expected and found).

    Thread-safety: safe. Real-time safe: no (file system).
    """
    if IS_WINDOWS:
        base = Path(os.environ.get("LOCALAPPDATA") or tempfile.gettempdir()) / "livefoley" / "run"
        if create:
            base.mkdir(parents=True, exist_ok=True)
        return base
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(xdg) / "livefoley" if xdg else Path(tempfile.gettempdir()) / f"livefoley-{os.getuid()}"
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise SessionError(f"runtime dir {path}: parent {path.parent} does not exist (XDG_RUNTIME_DIR={xdg!r})") from None
    check_private_dir(path)
    return path


def check_private_dir(path: Path) -> None:
    """Raise SessionError unless `path` is a real directory of ours with mode 0700 (POSIX)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise SessionError(f"runtime dir {path}: does not exist") from None
    if IS_WINDOWS:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise SessionError(f"runtime dir {path}: expected a directory, found mode {stat.filemode(st.st_mode)} (symlink?)")
    if st.st_uid != os.getuid():
        raise SessionError(f"runtime dir {path}: expected owner uid {os.getuid()}, found uid {st.st_uid}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SessionError(f"runtime dir {path}: expected mode 0700, found {mode:04o}")


def connection_file_path(session_name: str) -> Path:
    """`<runtime dir>/<session_name>.json` (creates and checks the runtime dir)."""
    return runtime_dir() / f"{check_session_name(session_name)}.json"


def default_endpoints(session_name: str) -> tuple[str, str]:
    """(request endpoint, telemetry endpoint) for a session on this platform.

    Raises:
        ConfigError: the ipc path would exceed the socket path limit.
    """
    check_session_name(session_name)
    if IS_WINDOWS:
        return "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
    d = runtime_dir()
    eps = (f"ipc://{d}/{session_name}.ctl", f"ipc://{d}/{session_name}.tel")
    for ep in eps:
        if len(ep) - len("ipc://") > _IPC_PATH_MAX:
            raise ConfigError(
                f"ipc endpoint {ep}: expected a path of at most {_IPC_PATH_MAX} bytes, found {len(ep) - 6}; "
                "use a shorter session name or XDG_RUNTIME_DIR"
            )
    return eps


def tcp_host(endpoint: str) -> str | None:
    """The host part of a `tcp://HOST:PORT` endpoint, or None for other transports."""
    if not endpoint.startswith("tcp://"):
        return None
    rest = endpoint[len("tcp://") :]
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return host.strip("[]")


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address or `localhost`/`lo`."""
    host = tcp_host(endpoint)
    if host is None:
        return endpoint.startswith(("ipc://", "inproc://"))
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name, or a host name: treat as exposed


@dataclass(frozen=True)
class ConnectionInfo:
    """The contents of a connection file (see module docstring)."""

    endpoint: str
    telemetry_endpoint: str
    key: str  # hex of the HMAC key
    session_name: str
    pid: int
    signature_scheme: str = "hmac-sha256"
    protocol: str = PROTOCOL_NAME
    protocol_version: tuple[int, int] = PROTOCOL_VERSION
    curve_server_key: str | None = None  # z85 public key when CURVE is on

    @property
    def key_bytes(self) -> bytes:
        return bytes.fromhex(self.key)


_FIELDS = {f for f in ConnectionInfo.__dataclass_fields__}


def write_connection_file(path: Path, info: ConnectionInfo) -> Path:
    """Write `info` to `path` atomically with mode 0600 (the dir must already be private).

    Thread-safety: safe (rename is atomic). Real-time safe: no.
    """
    path = Path(path)
    data = asdict(info)
    data["protocol_version"] = list(info.protocol_version)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_connection_file(path: Path) -> ConnectionInfo:
    """Read and check a connection file.

    Raises:
        SessionError: missing, or readable by group/others (POSIX), or not owned by us.
        ProtocolError: not JSON, unknown or missing keys, wrong protocol or major version.
    """
    path = Path(path)
    try:
        st = os.stat(path)
        text = path.read_text()
    except FileNotFoundError:
        raise SessionError(f"connection file {path}: not found (is the sidecar running?)") from None
    if not IS_WINDOWS:
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise SessionError(f"connection file {path}: expected mode 0600, found {mode:04o}")
        if st.st_uid != os.getuid():
            raise SessionError(f"connection file {path}: expected owner uid {os.getuid()}, found uid {st.st_uid}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"connection file {path}: expected JSON, found {exc}") from None
    if not isinstance(data, dict) or set(data) - _FIELDS:
        extra = sorted(set(data) - _FIELDS) if isinstance(data, dict) else type(data).__name__
        raise ProtocolError(f"connection file {path}: unknown keys {extra}; expected a subset of {sorted(_FIELDS)}")
    if data.get("protocol") != PROTOCOL_NAME:
        raise ProtocolError(f"connection file {path}: expected protocol {PROTOCOL_NAME!r}, found {data.get('protocol')!r}")
    version = tuple(data.get("protocol_version") or ())
    if len(version) != 2 or version[0] != PROTOCOL_VERSION[0]:
        raise ProtocolError(f"connection file {path}: expected protocol major {PROTOCOL_VERSION[0]}, found {version}")
    data["protocol_version"] = version
    try:
        info = ConnectionInfo(**data)
        _ = info.key_bytes
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"connection file {path}: {exc}") from None
    return info


__all__ = [
    "ConnectionInfo",
    "check_session_name",
    "runtime_dir",
    "check_private_dir",
    "connection_file_path",
    "default_endpoints",
    "tcp_host",
    "is_loopback_endpoint",
    "write_connection_file",
    "read_connection_file",
]
