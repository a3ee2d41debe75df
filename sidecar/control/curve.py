"""CURVE keys for a control channel exposed beyond loopback: generate, load, authenticate.

What this is: `generate_keys(DIR)` (what `livefoley ctl keygen DIR` runs) writes a server and a
client key pair in ZeroMQ's certificate format into a 0700 directory; `start_authenticator`
runs pyzmq's ZAP authenticator, which admits only clients whose public key file is in that
directory. Copy the directory (client.key_secret, server.key) to the machine of the client.

What this is not: a replacement for the HMAC signature. CURVE encrypts and authenticates the
connection; HMAC still authenticates every message with the per-session key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

KEY_NAMES = ("server", "client")


def generate_keys(directory: str | os.PathLike) -> dict[str, Path]:
    """Write server and client key pairs into `directory` (created 0700).

    Returns:
        {"server.key", "server.key_secret", "client.key", "client.key_secret"} -> path.

    Raises:
        ConfigError: CURVE unavailable in this libzmq, or key files already exist there
            (keys are never silently overwritten).
    """
    if not zmq.has("curve"):
        raise ConfigError(f"CURVE keys: expected libzmq with CURVE, found libzmq {zmq.zmq_version()} without it")
    d = Path(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    existing = sorted(p.name for p in d.glob("*.key*"))
    if existing:
        raise ConfigError(f"CURVE keys in {d}: expected an empty directory, found {existing}")
    out: dict[str, Path] = {}
    for name in KEY_NAMES:
        public, secret = zmq.auth.create_certificates(d, name)
        os.chmod(secret, 0o600)
        out[f"{name}.key"] = Path(public)
        out[f"{name}.key_secret"] = Path(secret)
    log.info("wrote CURVE keys to %s", d)
    return out


def load_server_keys(directory: str | os.PathLike) -> tuple[bytes, bytes]:
    """(public, secret) z85 keys of the server from `directory`/server.key_secret.

    Raises:
        ConfigError: the file is missing or not a secret key file.
    """
    path = Path(directory) / "server.key_secret"
    if not path.exists():
        raise ConfigError(f"CURVE keys: expected {path} (run `livefoley ctl keygen {directory}`), found no such file")
    public, secret = zmq.auth.load_certificate(path)
    if not secret:
        raise ConfigError(f"CURVE keys: expected a secret key in {path}, found a public key only")
    return public, secret


def start_authenticator(context: zmq.Context, directory: str | os.PathLike) -> ThreadAuthenticator:
    """Start a ZAP authenticator on `context` that accepts the public keys in `directory`."""
    auth = ThreadAuthenticator(context, log=logging.getLogger(__name__ + ".zap"))
    auth.start()
    auth.configure_curve(domain="*", location=str(directory))
    return auth


def make_curve_server(sock: zmq.Socket, public: bytes, secret: bytes) -> None:
    """Turn `sock` into a CURVE server with the given keys (before bind)."""
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True


__all__ = ["generate_keys", "load_server_keys", "start_authenticator", "make_curve_server"]
