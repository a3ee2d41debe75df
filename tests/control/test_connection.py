"""Runtime dir and connection files: location rules, permissions, strict reading."""

import json
import os
import stat
from pathlib import Path

import pytest

from livefoley.protocol.control.connection import (
    ConnectionInfo,
    connection_file_path,
    default_endpoints,
    is_loopback_endpoint,
    read_connection_file,
    runtime_dir,
    write_connection_file,
)
from livefoley.protocol.errors import ConfigError, ProtocolError, SessionError


def _info(**over):
    base = dict(endpoint="ipc:///x.ctl", telemetry_endpoint="ipc:///x.tel", key="ab" * 32, session_name="s", pid=os.getpid())
    base.update(over)
    return ConnectionInfo(**base)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_runtime_dir_under_xdg_is_created_0700(runtime_base):
    d = runtime_dir()
    assert d == runtime_base / "livefoley" and _mode(d) == 0o700


def test_runtime_dir_without_xdg_is_per_uid_in_tmp(monkeypatch, runtime_base):
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(runtime_base))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    d = runtime_dir()
    assert d == runtime_base / f"livefoley-{os.getuid()}" and _mode(d) == 0o700


def test_runtime_dir_open_to_others_is_refused(runtime_base):
    (runtime_base / "livefoley").mkdir(mode=0o755)
    os.chmod(runtime_base / "livefoley", 0o755)
    with pytest.raises(SessionError) as e:
        runtime_dir()
    assert "expected mode 0700, found 0755" in str(e.value)


def test_runtime_dir_symlink_is_refused(runtime_base, tmp_path):
    os.symlink(tmp_path, runtime_base / "livefoley")
    with pytest.raises(SessionError, match="expected a directory, found mode l"):
        runtime_dir()


def test_connection_file_path_rule(runtime_base):
    assert connection_file_path("game-1") == runtime_base / "livefoley" / "game-1.json"


@pytest.mark.parametrize("bad", ["", "../evil", "a/b", "-x", "x" * 65])
def test_bad_session_name(bad):
    with pytest.raises(ConfigError, match="session name: expected"):
        connection_file_path(bad)


def test_default_endpoints_are_ipc_in_runtime_dir(runtime_base):
    ctl, tel = default_endpoints("game")
    assert ctl == f"ipc://{runtime_base}/livefoley/game.ctl" and tel == f"ipc://{runtime_base}/livefoley/game.tel"


def test_default_endpoint_too_long(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    with pytest.raises(ConfigError, match="expected a path of at most 100 bytes, found"):
        default_endpoints("session")


def test_connection_file_round_trip_and_mode(runtime_base):
    path = connection_file_path("s")
    info = _info(curve_server_key="z" * 40)
    write_connection_file(path, info)
    assert _mode(path) == 0o600
    assert read_connection_file(path) == info
    assert json.loads(path.read_text())["signature_scheme"] == "hmac-sha256"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_connection_file_readable_by_others_is_refused(runtime_base):
    path = write_connection_file(connection_file_path("s"), _info())
    os.chmod(path, 0o644)
    with pytest.raises(SessionError, match="expected mode 0600, found 0644"):
        read_connection_file(path)


def test_connection_file_missing():
    with pytest.raises(SessionError, match="not found"):
        read_connection_file(Path("/nonexistent/x.json"))


def test_connection_file_unknown_key(runtime_base):
    path = write_connection_file(connection_file_path("s"), _info())
    data = json.loads(path.read_text())
    data["transport"] = "carrier pigeon"
    path.write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match=r"unknown keys \['transport'\]"):
        read_connection_file(path)


def test_connection_file_other_protocol_major(runtime_base):
    path = write_connection_file(connection_file_path("s"), _info(protocol_version=(2, 0)))
    with pytest.raises(ProtocolError, match=r"expected protocol major 1, found \(2, 0\)"):
        read_connection_file(path)


def test_connection_file_not_json(runtime_base):
    path = connection_file_path("s")
    path.write_text("{nope")
    os.chmod(path, 0o600)
    with pytest.raises(ProtocolError, match="expected JSON"):
        read_connection_file(path)


@pytest.mark.parametrize(
    "endpoint,loopback",
    [("tcp://127.0.0.1:5555", True), ("tcp://localhost:1", True), ("tcp://[::1]:1", True), ("tcp://127.3.2.1:9", True),
     ("tcp://0.0.0.0:5555", False), ("tcp://*:5555", False), ("tcp://eth0:5555", False), ("tcp://10.0.0.2:1", False),
     ("ipc:///tmp/x", True)],
)
def test_loopback_detection(endpoint, loopback):
    assert is_loopback_endpoint(endpoint) is loopback
