"""The wire envelope of the control channel: frames, msgpack, HMAC-SHA256 signatures.

What this is: encode/decode of requests, replies and publications as lists of bytes frames,
exact inverses of each other (tested), and the signer. Modelled on Jupyter's wire format
(`[identities..., b"<IDS|MSG>", hmac, header, parent, metadata, content]`), trimmed:

    request / reply :  [DELIMITER, signature, header, body]
    publication     :  [topic, DELIMITER, signature, header, body]

`signature` is the lowercase hex HMAC-SHA256 of header then body under the session key.
`header` and `body` are each one msgpack map. ROUTER prepends the peer identity frame(s) to
what it receives; everything before DELIMITER is routing and is not signed.

What this is not: a socket (no zmq here) or the argument schema (schema.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field

import msgpack

from ..errors import ProtocolError
from .codes import ErrorCode, make_error
from .schema import MAX_ID_CHARS, MAX_MESSAGE_BYTES, PROTOCOL_VERSION

DELIMITER = b"<LF|MSG>"
TOPIC_TELEMETRY = b"telemetry"
TOPIC_HEARTBEAT = b"heartbeat"
SIGNATURE_SCHEME = "hmac-sha256"
KEY_BYTES = 32


class BadSignature(ProtocolError):
    """A message whose signature is missing or wrong. Never answered (see README)."""


def new_key() -> bytes:
    """A fresh random per-session key (32 bytes)."""
    import secrets

    return secrets.token_bytes(KEY_BYTES)


def new_id() -> str:
    """A fresh message/client id (32 hex chars)."""
    return uuid.uuid4().hex


class Signer:
    """HMAC-SHA256 over the header and body frames with one session key.

    Thread-safety: safe (each call copies the keyed prototype). Real-time safe: no.
    """

    def __init__(self, key: bytes):
        if not isinstance(key, bytes) or len(key) < 16:
            found = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
            raise ProtocolError(f"signing key: expected at least 16 bytes, found {found}")
        self._proto = hmac.new(key, digestmod=hashlib.sha256)

    def sign(self, *frames: bytes) -> bytes:
        """Hex digest over the frames, in order."""
        h = self._proto.copy()
        for f in frames:
            h.update(f)
        return h.hexdigest().encode("ascii")

    def verify(self, signature: bytes, *frames: bytes) -> None:
        """Raise BadSignature unless `signature` is the digest of `frames` (constant time)."""
        if not signature:
            raise BadSignature("message has no signature: expected hmac-sha256 hex digest, found empty frame")
        if not hmac.compare_digest(signature, self.sign(*frames)):
            raise BadSignature("message signature does not match the session key")


def pack(value) -> bytes:
    """msgpack encoding used on the wire (bin type for bytes, str as UTF-8)."""
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes, what: str):
    """Decode exactly one msgpack value, bounded; anything else is `not_msgpack`.

    Raises:
        ControlProtocolError: code `not_msgpack`, naming the frame and the decoder's reason.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True)  # max_*_len default to len(data)
    except Exception as exc:  # msgpack raises ValueError, TypeError, ExtraData, Unicode errors...
        raise make_error(
            ErrorCode.NOT_MSGPACK,
            f"{what}: expected one msgpack value, found {len(data)} bytes that do not decode ({type(exc).__name__}: {exc})"[:300],
        ) from None


def split_frames(frames: list[bytes]) -> tuple[list[bytes], bytes, bytes, bytes]:
    """Split received frames into (routing prefix, signature, header, body).

    Raises:
        ControlProtocolError: code `malformed_message` (no delimiter, or not exactly three
            frames after it).
    """
    try:
        i = frames.index(DELIMITER)
    except ValueError:
        raise make_error(
            ErrorCode.MALFORMED_MESSAGE, f"expected a {DELIMITER!r} delimiter frame, found {len(frames)} frames without one"
        ) from None
    rest = frames[i + 1 :]
    if len(rest) != 3:
        raise make_error(
            ErrorCode.MALFORMED_MESSAGE, f"expected 3 frames (signature, header, body) after the delimiter, found {len(rest)}"
        )
    return frames[:i], rest[0], rest[1], rest[2]


def check_size(signature: bytes, header: bytes, body: bytes) -> None:
    """Raise `message_too_large` if the message exceeds MAX_MESSAGE_BYTES."""
    n = len(signature) + len(header) + len(body)
    if n > MAX_MESSAGE_BYTES:
        raise make_error(ErrorCode.MESSAGE_TOO_LARGE, f"message of {n} bytes: expected at most {MAX_MESSAGE_BYTES} bytes")


def _check_version(v: object) -> tuple[int, int]:
    ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(type(x) is int for x in v)
    if not ok:
        raise make_error(ErrorCode.MALFORMED_MESSAGE, f"header 'v': expected [major, minor] ints, found {v!r:.60}")
    if v[0] != PROTOCOL_VERSION[0]:
        raise make_error(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version: expected major {PROTOCOL_VERSION[0]} (server speaks "
            f"{PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}), found {v[0]}.{v[1]}",
        )
    return (v[0], v[1])


def _check_str(header: dict, key: str, optional: bool = False) -> str | None:
    value = header.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not (1 <= len(value) <= MAX_ID_CHARS):
        raise make_error(
            ErrorCode.MALFORMED_MESSAGE, f"header {key!r}: expected str of 1..{MAX_ID_CHARS} characters, found {value!r:.60}"
        )
    return value


@dataclass(frozen=True)
class Request:
    """One decoded request. `args` is not yet checked against the schema."""

    op: str
    args: dict = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    client: str = "anonymous"
    version: tuple[int, int] = PROTOCOL_VERSION
    ts_ns: int = 0


@dataclass(frozen=True)
class Reply:
    """One decoded reply: `ok` with `result`, or an error `code` and `message`."""

    id: str | None
    op: str | None
    ok: bool
    result: dict | None = None
    code: str | None = None
    message: str | None = None
    server: str = ""


def encode_request(signer: Signer, req: Request) -> list[bytes]:
    """Frames for a request, as a DEALER sends them."""
    header = pack({"v": list(req.version), "id": req.id, "op": req.op, "client": req.client, "ts_ns": req.ts_ns or time.time_ns()})
    body = pack(req.args)
    return [DELIMITER, signer.sign(header, body), header, body]


def peek_request_id(header: bytes) -> str | None:
    """Best-effort request id from an unverified header, so an error reply can be matched."""
    if len(header) > 4096:
        return None
    try:
        h = msgpack.unpackb(header, raw=False, strict_map_key=True)
    except Exception:
        return None
    rid = h.get("id") if isinstance(h, dict) else None
    return rid if isinstance(rid, str) and 1 <= len(rid) <= MAX_ID_CHARS else None


def decode_request(header: bytes, body: bytes) -> Request:
    """Decode a request's header and body frames (signature already verified).

    Raises:
        ControlProtocolError: `not_msgpack`, `malformed_message`, `unsupported_version`.
    """
    h = unpack(header, "request header")
    if not isinstance(h, dict):
        raise make_error(ErrorCode.MALFORMED_MESSAGE, f"request header: expected a map, found {type(h).__name__}")
    version = _check_version(h.get("v"))
    rid = _check_str(h, "id")
    op = h.get("op")
    if not isinstance(op, str):
        raise make_error(ErrorCode.MALFORMED_MESSAGE, f"header 'op': expected str, found {op!r:.60}")
    client = _check_str(h, "client", optional=True) or "anonymous"
    ts = h.get("ts_ns")
    args = unpack(body, f"{op!r:.40} body")
    return Request(op=op, args=args, id=rid, client=client, version=version, ts_ns=ts if type(ts) is int else 0)


def encode_reply(signer: Signer, reply: Reply) -> list[bytes]:
    """Frames for a reply (without the routing identity the ROUTER puts in front)."""
    header = pack(
        {"v": list(PROTOCOL_VERSION), "id": reply.id, "op": reply.op, "ok": reply.ok, "server": reply.server, "ts_ns": time.time_ns()}
    )
    content = reply.result if reply.ok else {"code": reply.code, "message": reply.message}
    body = pack(content)
    return [DELIMITER, signer.sign(header, body), header, body]


def decode_reply(signer: Signer, frames: list[bytes]) -> Reply:
    """Verify and decode a reply as the DEALER receives it.

    Raises:
        BadSignature: the server signs with another key.
        ControlProtocolError: malformed, not msgpack, other major version.
    """
    _, sig, header, body = split_frames(frames)
    signer.verify(sig, header, body)
    h = unpack(header, "reply header")
    if not isinstance(h, dict):
        raise make_error(ErrorCode.MALFORMED_MESSAGE, f"reply header: expected a map, found {type(h).__name__}")
    _check_version(h.get("v"))
    content = unpack(body, "reply body")
    if not isinstance(content, dict):
        raise make_error(ErrorCode.MALFORMED_MESSAGE, f"reply body: expected a map, found {type(content).__name__}")
    ok = h.get("ok") is True
    return Reply(
        id=h.get("id"),
        op=h.get("op"),
        ok=ok,
        result=content if ok else None,
        code=None if ok else str(content.get("code")),
        message=None if ok else str(content.get("message")),
        server=str(h.get("server", "")),
    )


def encode_publication(signer: Signer, topic: bytes, seq: int, server: str, body: dict) -> list[bytes]:
    """Frames for a PUB message (telemetry or heartbeat)."""
    header = pack({"v": list(PROTOCOL_VERSION), "kind": topic.decode(), "seq": seq, "server": server, "ts_ns": time.time_ns()})
    payload = pack(body)
    return [topic, DELIMITER, signer.sign(header, payload), header, payload]


def decode_publication(signer: Signer, frames: list[bytes]) -> tuple[str, dict, dict]:
    """Verify and decode a PUB message into (kind, header, body).

    Raises:
        BadSignature, ControlProtocolError.
    """
    prefix, sig, header, body = split_frames(frames)
    signer.verify(sig, header, body)
    h = unpack(header, "publication header")
    b = unpack(body, "publication body")
    if not isinstance(h, dict) or not isinstance(b, dict) or len(prefix) != 1:
        raise make_error(ErrorCode.MALFORMED_MESSAGE, "publication: expected topic frame and map header and body")
    _check_version(h.get("v"))
    return str(h.get("kind")), h, b


__all__ = [
    "DELIMITER",
    "TOPIC_TELEMETRY",
    "TOPIC_HEARTBEAT",
    "SIGNATURE_SCHEME",
    "KEY_BYTES",
    "BadSignature",
    "Signer",
    "Request",
    "Reply",
    "new_key",
    "new_id",
    "pack",
    "unpack",
    "split_frames",
    "check_size",
    "peek_request_id",
    "encode_request",
    "decode_request",
    "encode_reply",
    "decode_reply",
    "encode_publication",
    "decode_publication",
]
