"""Liveness: start order does not matter, a vanished server is noticed in bounded time, the
server notices a host that stopped heartbeating, and a restarted server is found again."""

import threading
import time

import pytest

from livefoley.protocol.control.client import ControlClient
from livefoley.protocol.control.codes import ControlTimeout
from livefoley.protocol.errors import SessionError
from livefoley.sidecar.control import ControlServer


def test_client_first_then_server(spawn_server):
    result: dict = {}

    def client() -> None:
        try:
            with ControlClient("late", timeout_s=5, wait_s=20) as c:
                result["hello"] = c.hello()
        except Exception as exc:  # reported below
            result["error"] = exc

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)
    assert t.is_alive(), "the client must be waiting for the server"
    spawn_server("late")
    t.join(30)
    assert "error" not in result and result["hello"]["ops"][0] == "hello"


def test_client_without_a_server_and_no_wait_says_so():
    with pytest.raises(SessionError, match="not found"):
        ControlClient("nobody")


def test_client_learns_the_server_is_gone_within_bounded_time(spawn_server):
    interval_s, liveness = 0.25, 3  # short for the test; long enough for a loaded machine
    server = spawn_server("gone", "--heartbeat-interval-s", str(interval_s))
    lost = threading.Event()
    with ControlClient("gone", timeout_s=2) as c:
        c.start_heartbeat(lost.set, interval_s=interval_s, liveness=liveness)
        deadline = time.monotonic() + 10
        while c.server_alive is not True and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.server_alive is True
        stream = c.watch(heartbeats=True, interval_s=interval_s, liveness=liveness)
        assert next(stream)["kind"] == "heartbeat"
        server.kill()
        t0 = time.monotonic()
        assert lost.wait(10), "heartbeat thread never declared the server gone"
        noticed_s = time.monotonic() - t0
        with pytest.raises(ControlTimeout, match="sidecar gone"):
            for _ in stream:
                pass
        with pytest.raises(ControlTimeout):
            c.ping(timeout_s=0.3)
    # liveness * interval plus scheduling slack on a loaded 2-core machine
    assert interval_s * (liveness - 1) <= noticed_s < interval_s * liveness + 2.0
    assert c.server_alive is False


def test_check_alive_is_bounded(spawn_server):
    server = spawn_server("chk")
    with ControlClient("chk") as c:
        assert c.check_alive(interval_s=0.2) is True
        server.kill()
        t0 = time.monotonic()
        assert c.check_alive(interval_s=0.2, liveness=3) is False
        assert time.monotonic() - t0 < 0.2 * 3 + 1.0


def test_server_notices_a_host_that_stopped_heartbeating(handler):
    lost = threading.Event()
    with ControlServer(handler, session_name="host", host_client_id="engine", heartbeat_interval_s=0.25,
                       on_host_lost=lost.set) as s:
        s.start()
        assert s.host_alive is None
        with ControlClient("host", client_id="engine") as engine, ControlClient("host", client_id="ctl") as ctl:
            engine.start_heartbeat(interval_s=0.25)
            deadline = time.monotonic() + 10
            while s.host_alive is not True and time.monotonic() < deadline:
                time.sleep(0.02)
            assert s.host_alive is True and "engine" in s.last_heard_ns
            time.sleep(1.0)
            assert not lost.is_set(), "a heartbeating host must not be declared lost"
            engine.stop_heartbeat()
            t0 = time.monotonic()
            while not lost.is_set() and time.monotonic() - t0 < 5:
                ctl.ping()  # another client's traffic is not the host's heartbeat
                time.sleep(0.05)
            assert lost.is_set() and s.host_alive is False
            assert time.monotonic() - t0 < 0.25 * 3 + 2.0
            assert ctl.stats()["control"]["host_alive"] is False
            engine.ping()
            assert s.host_alive is True


def test_restarted_server_with_a_new_key_is_found_again(spawn_server):
    first = spawn_server("again")
    with ControlClient("again", timeout_s=2) as c:
        before = c.hello()["server"]
        assert first.terminate() == 0
        spawn_server("again")
        after = c.hello()["server"]  # times out on the old key once, re-reads the file, retries
    assert after != before


def test_heartbeat_follows_a_restarted_server(spawn_server):
    first = spawn_server("phoenix")
    lost = threading.Event()
    with ControlClient("phoenix", timeout_s=2) as c:
        c.start_heartbeat(lost.set, interval_s=0.25)
        deadline = time.monotonic() + 10
        while c.server_alive is not True and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.server_alive is True
        first.terminate()
        assert lost.wait(10) and c.server_alive is False
        spawn_server("phoenix")  # new process, new key, same session
        deadline = time.monotonic() + 10
        while c.server_alive is not True and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.server_alive is True, "the heartbeat never found the restarted sidecar"
