"""The server's message path (Dispatcher), driven directly: every check and every reply code."""

import msgpack
import pytest

from livefoley.protocol.control.envelope import DELIMITER, Request, Signer, decode_reply, encode_request, new_key, pack
from livefoley.protocol.control.schema import MAX_MESSAGE_BYTES, PROTOCOL_VERSION
from livefoley.protocol.errors import DeviceError
from livefoley.sidecar.control.dispatch import Dispatcher
from livefoley.sidecar.control.handler import ControlHandler
from livefoley.sidecar.control.testserver import InMemoryHandler

KEY = new_key()
SIGNER = Signer(KEY)


def make(handler=None, **kw) -> Dispatcher:
    return Dispatcher(handler or InMemoryHandler(), SIGNER, server_id="srv", **kw)


def req(op, args=None, **kw):
    return [b"peer", *encode_request(SIGNER, Request(op=op, args=args or {}, **kw))]


def answer(d: Dispatcher, frames):
    out = d.handle(frames)
    assert out is not None and out[0] == b"peer"
    return decode_reply(SIGNER, out)


def signed(header: bytes, body: bytes):
    return [b"peer", DELIMITER, SIGNER.sign(header, body), header, body]


def test_in_memory_handler_satisfies_the_protocol():
    assert isinstance(InMemoryHandler(), ControlHandler)


def test_ping_is_answered_by_the_server_itself():
    d = make()
    r = answer(d, req("ping", id="r1"))
    assert r.ok and r.id == "r1" and r.op == "ping" and isinstance(r.result["t_ns"], int) and r.server == "srv"


def test_hello_merges_protocol_fields_into_handler_info():
    r = answer(make(capabilities=("curve",)), req("hello", {"client_name": "test"}))
    assert r.ok and r.result["protocol_version"] == list(PROTOCOL_VERSION) and r.result["audio"]["sample_rate_hz"] == 48000
    assert {"curve", "telemetry", "heartbeat", "prompt"} <= set(r.result["capabilities"])
    assert "configure" in r.result["ops"] and r.result["max_message_bytes"] == MAX_MESSAGE_BYTES
    assert r.result["livefoley_version"] == "0.1.0" and r.result["version"] == "test-double"


def test_configure_telemetry_rate_goes_to_the_server_not_the_handler():
    rates, h = [], InMemoryHandler()
    d = make(h, on_telemetry_rate=rates.append)
    r = answer(d, req("configure", {"telemetry_rate_hz": 4, "nfe": 2}))
    assert rates == [4.0] and r.result["telemetry_rate_hz"] == 4.0 and h.config["nfe"] == 2
    assert "telemetry_rate_hz" not in h.config


def test_a_refused_configure_leaves_the_telemetry_rate_alone():
    rates, h = [], InMemoryHandler()
    d = make(h, on_telemetry_rate=rates.append)
    r = answer(d, req("configure", {"telemetry_rate_hz": 4, "model": "no-such-model"}))
    assert not r.ok and r.code == "checkpoint_error" and "no-such-model" in r.message
    assert rates == [] and h.config["model"] != "no-such-model"


def test_stats_carries_a_control_section():
    d = make()
    answer(d, req("ping", client="c1"))
    r = answer(d, req("stats", client="c1"))
    assert r.result["control"]["replies_ok"] == 1 and "c1" in r.result["control"]["clients"]


def test_shutdown_sets_the_flag_after_the_handler_ran():
    h = InMemoryHandler()
    d = make(h)
    assert answer(d, req("shutdown")).ok and h.shutdown_called and d.shutdown_requested


@pytest.mark.parametrize(
    "op,args,code,fragment",
    [("frobnicate", {}, "unknown_op", "'frobnicate'"),
     ("configure", {"nfe": "2"}, "bad_argument", "expected int, found str"),
     ("configure", {"nfe": 9}, "out_of_range", "found 9"),
     ("configure", {"model": "missing"}, "checkpoint_error", "'missing'"),
     ("start", {"now": True}, "bad_argument", "unknown argument 'now'")],
)
def test_error_replies_carry_code_and_message(op, args, code, fragment):
    r = answer(make(), req(op, args, id="x1"))
    assert not r.ok and r.id == "x1" and r.code == code and fragment in r.message


def test_bad_state_from_handler():
    d = make()
    answer(d, req("start"))
    r = answer(d, req("start"))
    assert r.code == "bad_state" and "expected state 'idle', found 'running'" in r.message


class Broken(InMemoryHandler):
    def stats(self):
        raise RuntimeError("boom")

    def reset(self):
        return ["not", "a", "dict"]

    def stop(self):
        return {"x": object()}

    def prompt(self, text):
        raise DeviceError("cuda: expected a device, found none")


@pytest.mark.parametrize(
    "op,args,code,fragment",
    [("stats", {}, "internal_error", "RuntimeError: boom"),
     ("reset", {}, "internal_error", "returned list, expected dict"),
     ("stop", {}, "internal_error", "stop"),
     ("prompt", {"text": "x"}, "device_error", "found none")],
)
def test_handler_failures_become_error_replies_and_serving_goes_on(op, args, code, fragment):
    d = make(Broken())
    r = answer(d, req(op, args))
    assert not r.ok and r.code == code and fragment in r.message
    assert answer(d, req("ping")).ok


def test_oversize_message_is_answered_without_reading_it():
    r = answer(make(), req("prompt", {"text": "x" * (MAX_MESSAGE_BYTES + 1)}, id="big"))
    assert r.code == "message_too_large" and r.id == "big" and str(MAX_MESSAGE_BYTES) in r.message


def test_non_msgpack_body_signed_correctly():
    header = pack({"v": list(PROTOCOL_VERSION), "id": "n1", "op": "ping"})
    r = answer(make(), signed(header, b"\xc1\xc1"))
    assert r.code == "not_msgpack" and r.id == "n1"


def test_wrong_protocol_version_reply():
    header = pack({"v": [PROTOCOL_VERSION[0] + 1, 0], "id": "v1", "op": "ping"})
    r = answer(make(), signed(header, pack({})))
    assert r.code == "unsupported_version" and r.id == "v1" and f"found {PROTOCOL_VERSION[0] + 1}.0" in r.message


def test_unknown_header_fields_are_ignored():
    header = pack({"v": list(PROTOCOL_VERSION), "id": "h1", "op": "ping", "future_field": [1, 2]})
    assert answer(make(), signed(header, pack({}))).ok


def test_malformed_framing_is_answered_to_the_sender():
    r = answer(make(), [b"peer", b"garbage"])
    assert r.code == "malformed_message" and r.id is None


def test_bad_signature_is_dropped_and_counted():
    d = make()
    frames = [b"peer", *encode_request(Signer(new_key()), Request(op="ping"))]
    assert d.handle(frames) is None
    assert d.counters["rejected_signature"] == 1


def test_missing_signature_is_dropped():
    d = make()
    frames = req("ping")
    frames[2] = b""
    assert d.handle(frames) is None and d.counters["rejected_signature"] == 1


def test_replayed_message_is_dropped():
    d = make()
    frames = req("start")
    assert answer(d, list(frames)).ok
    assert d.handle(list(frames)) is None and d.counters["rejected_replay"] == 1


def test_replay_window_is_bounded():
    d = make(replay_window=8)
    for _ in range(50):
        answer(d, req("ping"))
    assert len(d._seen) == 8 and len(d._seen_set) == 8


def test_message_without_routing_identity_is_dropped():
    d = make()
    assert d.handle(req("ping")[1:]) is None and d.counters["dropped_unroutable"] == 1


def test_last_heard_table_is_bounded():
    d = make(max_clients=4)
    for i in range(10):
        answer(d, req("ping", client=f"c{i}"))
    assert sorted(d.last_heard_ns) == ["c6", "c7", "c8", "c9"]


def test_host_liveness_transitions_and_callback_once():
    lost = []
    d = make(host_client_id="host", heartbeat_interval_s=0.1, heartbeat_liveness=3, on_host_lost=lambda: lost.append(1))
    assert d.check_host() is None  # not yet heard
    answer(d, req("ping", client="host"))
    t = d.last_heard_ns["host"]
    assert d.check_host(t + 250_000_000) is True  # 2.5 intervals: still alive
    assert d.check_host(t + 350_000_000) is False  # 3.5 intervals: lost
    assert d.check_host(t + 900_000_000) is False and lost == [1]
    answer(d, req("ping", client="host"))
    assert d.host_alive is True


def test_other_clients_do_not_count_as_host():
    d = make(host_client_id="host", heartbeat_interval_s=0.1)
    answer(d, req("ping", client="ctl"))
    assert d.check_host() is None


def test_reply_to_bad_header_types():
    header = msgpack.packb({"v": list(PROTOCOL_VERSION), "id": 5, "op": "ping"})
    r = answer(make(), signed(header, pack({})))
    assert r.code == "malformed_message" and "header 'id'" in r.message and "found 5" in r.message
