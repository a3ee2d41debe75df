"""Security of the control channel: permissions, loopback-only tcp, CURVE, HMAC keys."""

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from livefoley.protocol.control.client import ControlClient
from livefoley.protocol.control.codes import ControlTimeout
from livefoley.protocol.control.connection import read_connection_file, write_connection_file
from livefoley.protocol.control.envelope import new_key
from livefoley.protocol.errors import ConfigError, SessionError
from livefoley.sidecar.control import ControlServer
from livefoley.sidecar.control.curve import generate_keys


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_ipc_socket_dir_and_connection_file_permissions(spawn_server):
    server = spawn_server("perm")
    d = server.connection_file.parent
    assert _mode(d) == 0o700 and os.lstat(d).st_uid == os.getuid()
    assert _mode(server.connection_file) == 0o600
    for suffix in ("ctl", "tel"):
        sock = d / f"perm.{suffix}"
        assert stat.S_ISSOCK(os.lstat(sock).st_mode) and _mode(sock) == 0o600
    info = read_connection_file(server.connection_file)
    assert info.endpoint == f"ipc://{d}/perm.ctl" and info.pid == server.proc.pid and len(info.key_bytes) == 32


def test_tcp_bind_to_non_loopback_without_curve_is_refused(handler):
    with pytest.raises(ConfigError) as e:
        ControlServer(handler, session_name="exposed", endpoint="tcp://0.0.0.0:*", telemetry_endpoint="tcp://127.0.0.1:*")
    msg = str(e.value)
    assert "tcp://0.0.0.0:*" in msg and "requires CURVE" in msg and "found none" in msg and "livefoley ctl keygen" in msg


def test_tcp_loopback_needs_no_curve_and_records_the_bound_port(handler):
    with ControlServer(handler, session_name="loop", endpoint="tcp://127.0.0.1:*", telemetry_endpoint="tcp://127.0.0.1:*") as s:
        s.start()
        info = read_connection_file(s.connection_file)
        assert info.endpoint.startswith("tcp://127.0.0.1:") and not info.endpoint.endswith("*")
        with ControlClient("loop", timeout_s=5) as c:
            assert c.ping() < 5


def test_ipc_endpoint_in_a_directory_open_to_others_is_refused(handler):
    public = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(public, 0o755)
    try:
        with pytest.raises(SessionError, match="expected mode 0700, found 0755"):
            ControlServer(handler, session_name="pub", endpoint=f"ipc://{public}/x.ctl", telemetry_endpoint=f"ipc://{public}/x.tel")
    finally:
        os.rmdir(public)


def test_curve_admits_the_right_keys_and_rejects_wrong_ones(handler, tmp_path):
    keys, other = tmp_path / "keys", tmp_path / "other"
    generate_keys(keys)
    generate_keys(other)
    with ControlServer(handler, session_name="cv", endpoint="tcp://0.0.0.0:*", telemetry_endpoint="tcp://0.0.0.0:*",
                       curve_keys_dir=keys) as s:
        s.start()
        assert read_connection_file(s.connection_file).curve_server_key is not None
        with ControlClient("cv", timeout_s=5, curve_keys_dir=keys) as good:
            assert "curve" in good.hello()["capabilities"]
        with ControlClient("cv", timeout_s=1, curve_keys_dir=other) as bad:
            with pytest.raises(ControlTimeout, match="expected a reply"):
                bad.ping()
        with pytest.raises(SessionError, match="requires CURVE: expected curve_keys_dir"):
            ControlClient("cv")


def test_curve_server_needs_its_secret_key(handler, tmp_path):
    with pytest.raises(ConfigError, match="server.key_secret"):
        ControlServer(handler, session_name="nokeys", endpoint="tcp://0.0.0.0:*", telemetry_endpoint="tcp://0.0.0.0:*",
                      curve_keys_dir=tmp_path)


def test_keygen_writes_private_secrets_and_never_overwrites(tmp_path):
    paths = generate_keys(tmp_path / "k")
    assert _mode(tmp_path / "k") == 0o700
    assert _mode(paths["server.key_secret"]) == 0o600 and _mode(paths["client.key_secret"]) == 0o600
    with pytest.raises(ConfigError, match=r"expected an empty directory, found \['client.key'"):
        generate_keys(tmp_path / "k")


def test_a_wrong_hmac_key_is_refused(handler, tmp_path):
    with ControlServer(handler, session_name="hm") as s:
        s.start()
        forged = tmp_path / "forged.json"
        write_connection_file(forged, replace(read_connection_file(s.connection_file), key=new_key().hex()))
        with ControlClient(connection_file=forged, timeout_s=1) as intruder:
            with pytest.raises(ControlTimeout, match="its key differs"):
                intruder.start()
        with ControlClient("hm", timeout_s=5) as owner:
            stats = owner.stats()
    assert stats["control"]["rejected_signature"] >= 1 and stats["state"] == "idle"  # the forged start did nothing


def test_a_replayed_request_is_not_executed_twice(handler):
    with ControlServer(handler, session_name="rp") as s:
        s.start()
        with ControlClient("rp", timeout_s=5) as c:
            from livefoley.protocol.control.envelope import Request, encode_request, Signer

            frames = encode_request(Signer(c.info.key_bytes), Request(op="reset"))
            c.send_frames(frames)
            assert c.recv_reply(5).ok
            c.send_frames(frames)
            assert c.recv_reply(0.5) is None
            assert c.stats()["control"]["rejected_replay"] == 1


@pytest.mark.parametrize(
    "kwargs,fragment",
    [({"telemetry_rate_hz": 0}, "telemetry_rate_hz: expected a number > 0, found 0"),
     ({"heartbeat_interval_s": -1.0}, "heartbeat_interval_s: expected a number > 0, found -1.0"),
     ({"heartbeat_liveness": 0}, "heartbeat_liveness: expected an int >= 1, found 0")],
)
def test_server_parameters_are_checked(handler, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ControlServer(handler, session_name="params", **kwargs)
