"""`livefoley ctl` in a subprocess, against the test server in another process."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

LIVEFOLEY = str(Path(sys.executable).with_name("livefoley"))


def ctl(runtime_base, *args, timeout_s=60):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_base))
    return subprocess.run([LIVEFOLEY, "ctl", *args], capture_output=True, text=True, env=env, timeout=timeout_s)


@pytest.fixture
def session(spawn_server):
    return spawn_server("cli")


def test_ctl_commands_against_a_server(runtime_base, session):
    out = ctl(runtime_base, "hello")  # the only session in the runtime dir is found by itself
    assert out.returncode == 0 and "protocol 1.0" in out.stdout and "48000 Hz, 2 ch stereo" in out.stdout

    out = ctl(runtime_base, "--session", "cli", "--json", "configure", "nfe=2", "channel_layout=foa", "gain=0.5")
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    assert (config["nfe"], config["channel_layout"], config["gain"]) == (2, "foa", 0.5)

    out = ctl(runtime_base, "configure", "nfe=9")
    assert out.returncode == 2 and "expected int in [1, 4], found 9" in out.stderr

    out = ctl(runtime_base, "--json", "configure", "bogus=1")
    assert out.returncode == 2 and json.loads(out.stdout)["code"] == "bad_argument"

    out = ctl(runtime_base, "--connection-file", str(session.connection_file), "start")
    assert out.returncode == 0 and out.stdout.split() == ["state", "running"]

    out = ctl(runtime_base, "--json", "watch", "--count", "2")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and len(lines) == 2 and all(b["kind"] == "telemetry" and b["running"] for b in lines)

    out = ctl(runtime_base, "status")
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines[0].split() == ["state", "running"]
    assert any(line.split()[:2] == ["total", "7.00"] for line in lines)  # the test double's total stage
    assert any(line.startswith("control") and "replies_ok" in line for line in lines)

    out = ctl(runtime_base, "prompt", "rain on a tin roof")
    assert out.returncode == 0 and "rain on a tin roof" in out.stdout

    out = ctl(runtime_base, "shutdown")
    assert out.returncode == 0 and "shutting_down" in out.stdout
    assert session.proc.wait(10) == 0


def test_ctl_watch_human_and_ping(runtime_base, session):
    assert ctl(runtime_base, "start").returncode == 0
    out = ctl(runtime_base, "watch", "--count", "1")
    assert out.returncode == 0 and out.stdout.startswith("steps") and "ring" in out.stdout and "underruns" in out.stdout
    out = ctl(runtime_base, "ping")
    assert out.returncode == 0 and out.stdout.startswith("pong from ipc://")


def test_ctl_without_a_session(runtime_base):
    out = ctl(runtime_base, "ping")
    assert out.returncode == 2 and "expected --session NAME or exactly one session" in out.stderr and "found none" in out.stderr


def test_ctl_keygen(runtime_base, tmp_path):
    out = ctl(runtime_base, "keygen", str(tmp_path / "keys"))
    assert out.returncode == 0 and "client.key_secret" in out.stdout
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "client.key_secret").st_mode) == 0o600
    again = ctl(runtime_base, "keygen", str(tmp_path / "keys"))
    assert again.returncode == 2 and "expected an empty directory" in again.stderr
