"""Round trips against a real server in another process, and the in-process server API."""

import os
import subprocess
import sys
import threading
import time

import pytest

from livefoley.protocol.control.client import ControlClient
from livefoley.protocol.control.codes import (
    ControlCheckpointError,
    ControlConfigError,
    ControlProtocolError,
    ControlSessionError,
)
from livefoley.protocol.control.connection import ConnectionInfo, connection_file_path, write_connection_file
from livefoley.protocol.control.envelope import DELIMITER, Signer, pack
from livefoley.protocol.control.schema import MAX_MESSAGE_BYTES, PROTOCOL_VERSION
from livefoley.protocol.control.telemetry import validate_telemetry
from livefoley.protocol.errors import ConfigError, SessionError
from livefoley.sidecar.control import ControlServer


def test_every_operation_round_trips_against_a_server_process(spawn_server):
    server = spawn_server("rt")
    with ControlClient("rt", timeout_s=5) as c:
        hello = c.hello()
        assert hello["protocol_version"] == list(PROTOCOL_VERSION) and hello["audio"]["channels"] == 2
        settings = dict(model="tiny", nfe=4, guidance_scale=2.5, seed=42, gain=0.8, target_latency_ms=80,
                        channel_layout="foa", prompt="door creak")
        config = c.configure(**settings)
        assert {k: config[k] for k in settings} == {**settings, "target_latency_ms": 80.0}
        assert c.hello()["audio"] == {"sample_rate_hz": 48000, "channels": 4, "channel_layout": "foa", "block_frames": 1600}
        assert c.prompt("glass breaking") == {"prompt": "glass breaking", "session": None}
        assert c.prompt("rain", session="rt") == {"prompt": "rain", "session": "rt"}  # optional target
        assert c.start() == {"state": "running"}
        first = c.stats()["steps"]
        time.sleep(0.2)
        stats = c.stats()
        assert stats["state"] == "running" and stats["steps"] > first and stats["control"]["replies_ok"] >= 6
        assert c.stop() == {"state": "idle"}
        assert c.reset() == {"state": "idle", "steps": 0}
        assert 0 < c.ping() < 5
        assert c.shutdown() == {"state": "shutting_down"}
    assert server.proc.wait(10) == 0
    assert not server.connection_file.exists()
    assert not list(server.connection_file.parent.glob("rt.*"))  # sockets removed too


def test_error_replies_over_the_wire_are_typed(spawn_server):
    spawn_server("err")
    with ControlClient("err", timeout_s=5) as c:
        with pytest.raises(ControlProtocolError) as e:
            c.call("frobnicate", validate=False)
        assert e.value.code == "unknown_op" and "'frobnicate'" in str(e.value)
        with pytest.raises(ControlConfigError) as e:
            c.call("configure", {"gain": "loud"}, validate=False)
        assert e.value.code == "bad_argument" and "expected float, found str" in str(e.value)
        with pytest.raises(ControlConfigError) as e:
            c.call("configure", {"guidance_scale": 99.0}, validate=False)
        assert e.value.code == "out_of_range" and "[0, 20]" in str(e.value) and "99.0" in str(e.value)
        with pytest.raises(ControlCheckpointError) as e:
            c.configure(model="huge")
        assert e.value.code == "checkpoint_error" and "'huge'" in str(e.value)
        c.start()
        with pytest.raises(ControlSessionError) as e:
            c.start()
        assert e.value.code == "bad_state" and "found 'running'" in str(e.value)
        with pytest.raises(ControlProtocolError) as e:
            c.call("prompt", {"text": "x" * MAX_MESSAGE_BYTES}, validate=False)
        assert e.value.code == "message_too_large"
        signer = Signer(c.info.key_bytes)
        for header, body, code in [
            (pack({"v": list(PROTOCOL_VERSION), "id": "nm", "op": "ping"}), b"\xc1", "not_msgpack"),
            (pack({"v": [9, 0], "id": "ver", "op": "ping"}), pack({}), "unsupported_version"),
        ]:
            c.send_frames([DELIMITER, signer.sign(header, body), header, body])
            reply = c.recv_reply(5)
            assert reply is not None and not reply.ok and reply.code == code
        assert c.ping() < 5


def test_concurrent_clients_get_their_own_replies(spawn_server):
    spawn_server("many")
    n_clients, n_calls = 6, 40
    errors: list[str] = []

    def run(k: int) -> None:
        try:
            with ControlClient("many", timeout_s=10, client_id=f"client-{k}") as c:
                for j in range(n_calls):
                    text = f"client {k} call {j}"
                    got = c.prompt(text)["prompt"]
                    if got != text:
                        errors.append(f"expected {text!r}, found {got!r}")
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with ControlClient("many") as c:
        control = c.stats()["control"]
    assert control["replies_ok"] >= n_clients * n_calls
    assert {f"client-{k}" for k in range(n_clients)} <= set(control["clients"])


def test_watch_yields_telemetry_in_the_schema(spawn_server):
    spawn_server("tel")
    with ControlClient("tel", timeout_s=5) as c:
        assert c.configure(telemetry_rate_hz=50)["telemetry_rate_hz"] == 50.0
        c.start()
        got, beats = [], 0
        for body in c.watch(heartbeats=True):
            if body["kind"] == "heartbeat":
                beats += 1
                assert beats < 10, "heartbeats but no telemetry from a running server"
                continue
            got.append(body)
            if len(got) == 4:
                break
    for body in got:
        assert body.pop("kind") == "telemetry"
        validate_telemetry({k: v for k, v in body.items() if k != "seq"})
    assert [b["seq"] for b in got] == sorted(b["seq"] for b in got)
    assert got[-1]["steps"] >= got[0]["steps"] and got[-1]["running"] is True


def test_in_process_server_thread_mode_and_telemetry_rate(handler):
    server = ControlServer(handler, session_name="inproc", telemetry_rate_hz=1000)
    server.start()
    try:
        with ControlClient("inproc", timeout_s=5) as c:
            assert c.hello()["model"]["name"] == "synthetic"
            stream = c.watch(heartbeats=True)
            assert next(stream)["kind"] == "heartbeat"  # subscribed now (PUB drops for late joiners)
            assert c.configure(telemetry_rate_hz=0.5)["telemetry_rate_hz"] == 0.5
            assert server.telemetry_rate_hz == 0.5
            assert server.publish_telemetry(handler.telemetry()) is True
            assert server.publish_telemetry(handler.telemetry()) is False  # 2 s not yet over
            body = next(stream)
            for _ in range(5):  # a heartbeat may come first; more than a few means it was lost
                if body["kind"] == "telemetry":
                    break
                body = next(stream)
            assert body["kind"] == "telemetry"
            assert body["steps"] == 0 and body["ring_capacity_frames"] == 4096
            server.telemetry_rate_hz = 1e9
            with pytest.raises(ConfigError, match="'steps': expected int >= 0, found -5"):
                server.publish_telemetry({**handler.telemetry(), "steps": -5})
    finally:
        server.close()
    assert not connection_file_path("inproc").exists()


def test_second_server_on_a_live_session_is_refused(handler):
    with ControlServer(handler, session_name="dup"):
        with pytest.raises(SessionError) as e:
            ControlServer(handler, session_name="dup")
        assert f"found pid {os.getpid()} serving it" in str(e.value) and "expected no live server" in str(e.value) and "dup" in str(e.value)


def test_second_server_check_names_the_live_pid(spawn_server, handler):
    server = spawn_server("taken")
    with pytest.raises(SessionError) as e:
        ControlServer(handler, session_name="taken")
    assert f"found pid {server.proc.pid} serving it" in str(e.value)


def test_stale_connection_file_is_replaced(handler):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = ConnectionInfo(endpoint="ipc:///nowhere", telemetry_endpoint="ipc:///nowhere2", key="00" * 32,
                           session_name="stale", pid=int(dead.stdout))
    write_connection_file(connection_file_path("stale"), stale)
    with ControlServer(handler, session_name="stale") as server:
        server.start()
        with ControlClient("stale", timeout_s=5) as c:
            assert c.ping() < 5


def test_session_lock_refuses_a_second_server_even_without_a_connection_file(handler):
    with ControlServer(handler, session_name="locked") as first:
        first.connection_file.unlink()  # e.g. removed by hand: the flock still says "taken"
        with pytest.raises(SessionError) as e:
            ControlServer(handler, session_name="locked")
        assert "expected no live server, found another process serving it" in str(e.value) and ".locked.lock" in str(e.value)
    with ControlServer(handler, session_name="locked") as again:  # released at close
        assert again.connection_file.exists()


def test_publish_from_another_thread_while_serving_and_closing(handler):
    """The PUB socket is shared by the polling thread (heartbeats) and the runtime's thread
    (telemetry); the lock must keep that safe, including a close() in the middle."""
    server = ControlServer(handler, session_name="race", telemetry_rate_hz=200, heartbeat_interval_s=0.001)
    server.start()
    published, errors = [0], []

    def publisher() -> None:
        try:
            t_end = time.monotonic() + 0.6
            while time.monotonic() < t_end:
                published[0] += server.publish_telemetry(handler.telemetry())
        except Exception as exc:  # reported below
            errors.append(repr(exc))

    t = threading.Thread(target=publisher)
    t.start()
    with ControlClient("race", timeout_s=5) as c:
        for _ in range(20):
            assert c.ping() < 5
    time.sleep(0.2)
    server.close()  # while the publisher may still be running
    t.join(5)
    assert errors == [] and published[0] > 10
    assert server.publish_telemetry(handler.telemetry()) is False  # after close: a no-op
