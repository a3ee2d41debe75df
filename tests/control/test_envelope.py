"""The wire envelope: encode/decode are inverses; signatures, versions, framing and size."""

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livefoley.protocol.control.codes import ControlProtocolError
from livefoley.protocol.control.envelope import (
    DELIMITER,
    TOPIC_TELEMETRY,
    BadSignature,
    Reply,
    Request,
    Signer,
    check_size,
    decode_publication,
    decode_reply,
    decode_request,
    encode_publication,
    encode_reply,
    encode_request,
    new_key,
    peek_request_id,
    split_frames,
)
from livefoley.protocol.control.schema import MAX_MESSAGE_BYTES
from livefoley.protocol.errors import ProtocolError

KEY = b"k" * 32
SIGNER = Signer(KEY)

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=20)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)
ids = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=64)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.text(max_size=20), args=st.dictionaries(st.text(max_size=10), values, max_size=5), rid=ids, client=ids)
def test_request_encode_decode_are_inverses(op, args, rid, client):
    req = Request(op=op, args=args, id=rid, client=client, ts_ns=123)
    frames = encode_request(SIGNER, req)
    prefix, sig, header, body = split_frames([b"identity", *frames])
    assert prefix == [b"identity"]
    SIGNER.verify(sig, header, body)
    assert decode_request(header, body) == req


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rid=ids | st.none(), ok=st.booleans(), result=st.dictionaries(st.text(max_size=10), values, max_size=5))
def test_reply_encode_decode_are_inverses(rid, ok, result):
    reply = Reply(id=rid, op="stats", ok=ok, result=result if ok else None,
                  code=None if ok else "bad_state", message=None if ok else "m", server="s1")
    assert decode_reply(SIGNER, encode_reply(SIGNER, reply)) == reply


def test_publication_round_trip():
    frames = encode_publication(SIGNER, TOPIC_TELEMETRY, 7, "s1", {"steps": 3})
    assert frames[0] == TOPIC_TELEMETRY
    kind, header, body = decode_publication(SIGNER, frames)
    assert (kind, header["seq"], header["server"], body) == ("telemetry", 7, "s1", {"steps": 3})


def test_bad_signature_on_reply():
    frames = encode_reply(Signer(new_key()), Reply(id="a", op="ping", ok=True, result={}))
    with pytest.raises(BadSignature, match="does not match"):
        decode_reply(SIGNER, frames)


def test_missing_signature():
    with pytest.raises(BadSignature, match="found empty frame"):
        SIGNER.verify(b"", b"h", b"b")


def test_tampered_body_fails_verification():
    frames = encode_request(SIGNER, Request(op="configure", args={"nfe": 1}))
    frames[3] = msgpack.packb({"nfe": 4})
    with pytest.raises(BadSignature):
        SIGNER.verify(frames[1], frames[2], frames[3])


def test_short_key_is_refused():
    with pytest.raises(ProtocolError, match="expected at least 16 bytes, found 3 bytes"):
        Signer(b"abc")


def test_missing_delimiter():
    with pytest.raises(ControlProtocolError) as e:
        split_frames([b"id", b"x", b"y"])
    assert e.value.code == "malformed_message" and "found 3 frames without one" in str(e.value)


def test_truncated_message():
    with pytest.raises(ControlProtocolError) as e:
        split_frames([b"id", DELIMITER, b"sig", b"header"])
    assert e.value.code == "malformed_message" and "expected 3 frames" in str(e.value) and "found 2" in str(e.value)


def test_message_too_large():
    with pytest.raises(ControlProtocolError) as e:
        check_size(b"s" * 64, b"h" * 100, b"b" * MAX_MESSAGE_BYTES)
    assert e.value.code == "message_too_large" and str(MAX_MESSAGE_BYTES) in str(e.value) and str(MAX_MESSAGE_BYTES + 164) in str(e.value)


def test_wrong_protocol_version():
    header = msgpack.packb({"v": [2, 0], "id": "abc", "op": "ping"})
    with pytest.raises(ControlProtocolError) as e:
        decode_request(header, msgpack.packb({}))
    assert e.value.code == "unsupported_version" and "expected major 1" in str(e.value) and "found 2.0" in str(e.value)


def test_version_not_a_pair():
    with pytest.raises(ControlProtocolError) as e:
        decode_request(msgpack.packb({"v": "1.0", "id": "a", "op": "ping"}), msgpack.packb({}))
    assert e.value.code == "malformed_message" and "[major, minor]" in str(e.value) and "'1.0'" in str(e.value)


def test_non_msgpack_body():
    header = msgpack.packb({"v": [1, 0], "id": "abc", "op": "ping"})
    with pytest.raises(ControlProtocolError) as e:
        decode_request(header, b"\xc1not msgpack")
    assert e.value.code == "not_msgpack" and "12 bytes" in str(e.value)


@pytest.mark.parametrize("prefix", [b"\xdb", b"\xc6", b"\xdd", b"\xdf"])  # str32, bin32, array32, map32
def test_huge_length_claims_are_not_msgpack(prefix):
    header = msgpack.packb({"v": [1, 0], "id": "abc", "op": "ping"})
    with pytest.raises(ControlProtocolError) as e:
        decode_request(header, prefix + b"\xff\xff\xff\xff" + b"x" * 8)
    assert e.value.code == "not_msgpack"


def test_peek_request_id_is_best_effort():
    assert peek_request_id(msgpack.packb({"id": "abc"})) == "abc"
    assert peek_request_id(b"\xc1") is None
    assert peek_request_id(msgpack.packb({"id": "x" * 65})) is None
    assert peek_request_id(msgpack.packb([1])) is None
