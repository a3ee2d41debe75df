"""Test helpers for the sidecar suite: corrupt a descriptor as a buggy host would, run a host
process, wait for conditions. Real shared memory and real processes; nothing mocked."""

from __future__ import annotations

import mmap
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DESC_BYTES = 64
WIDTH_OFFSET = 16  # lf_frame_desc_t: frame_index u64, capture_ns i64, width u32
PITCH_OFFSET = 24  # ... height u32, row_pitch_bytes u32
FORMAT_OFFSET = 28


def corrupt_descriptors(session, *, offset: int, value: int) -> None:
    """Overwrite one u32 field of every slot's descriptor, bypassing the producer's checks
    (what a buggy or hostile engine could do to the shared segment)."""
    h = session.header()
    with open(f"/dev/shm/{session.name.lstrip('/')}", "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        try:
            for slot in range(h.slot_count):
                m[h.desc_offset + slot * DESC_BYTES + offset: h.desc_offset + slot * DESC_BYTES + offset + 4] = \
                    struct.pack("<I", value)
        finally:
            m.close()


def wait_for(predicate, timeout_s: float, interval_s: float = 0.01):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return predicate()


def pid_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def spawn_host_process(*args: str, log_path: Path) -> subprocess.Popen:
    """Run tests/sidecar/host_process.py (a host that spawns its own sidecar) in a new process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as err:
        return subprocess.Popen([sys.executable, str(Path(__file__).with_name("host_process.py")), *args],
                                stdout=subprocess.PIPE, stderr=err, env=env, cwd=str(REPO), text=True)
