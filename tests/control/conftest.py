"""Fixtures of the control-channel tests: a private runtime dir and test-server processes."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from livefoley.sidecar.control.testserver import InMemoryHandler


@pytest.fixture(autouse=True)
def runtime_base(monkeypatch):
    """Each test gets its own short XDG_RUNTIME_DIR (ipc paths must stay under ~100 bytes)."""
    base = tempfile.mkdtemp(prefix="lfc", dir="/tmp")
    monkeypatch.setenv("XDG_RUNTIME_DIR", base)
    yield Path(base)
    shutil.rmtree(base, ignore_errors=True)


class ServerProcess:
    """A `python -m livefoley.sidecar.control.testserver` child process."""

    def __init__(self, session: str, *extra: str, env_base: Path):
        env = dict(os.environ, XDG_RUNTIME_DIR=str(env_base))
        cmd = [sys.executable, "-m", "livefoley.sidecar.control.testserver", "--session", session, *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        self.session = session
        self.connection_file = Path(self._wait_line("ready ", 20.0).split(" ", 1)[1])

    def _wait_line(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(prefix):
                    return line.strip()
                if not line and self.proc.poll() is not None:
                    break
        self.kill()
        raise AssertionError(f"test server: expected a line starting {prefix!r} within {timeout_s} s, found none")

    def wait_line(self, prefix: str, timeout_s: float) -> str:
        return self._wait_line(prefix, timeout_s)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(10)


@pytest.fixture
def spawn_server(runtime_base):
    """Factory: spawn_server(session, *args) -> ServerProcess (killed at teardown)."""
    procs: list[ServerProcess] = []

    def spawn(session: str = "t", *extra: str) -> ServerProcess:
        p = ServerProcess(session, *extra, env_base=runtime_base)
        procs.append(p)
        return p

    yield spawn
    for p in procs:
        p.kill()
        p.proc.stdout.close()


@pytest.fixture
def handler():
    return InMemoryHandler()
