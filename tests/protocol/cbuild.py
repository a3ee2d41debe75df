"""Compile the C test programs of tests/protocol/c against protocol's C core.

Builds with the system compiler and the house flags (-std=c11 -Wall -Wextra -Werror), and
optionally a sanitizer, caching each binary per pytest session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "protocol" / "include"
NATIVE = ROOT / "protocol" / "native"
C_DIR = Path(__file__).resolve().parent / "c"
CORE_SOURCES = sorted(str(p) for p in NATIVE.glob("*.c"))
STRICT = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"]
SANITIZERS = {
    None: ["-O2"],
    "address": ["-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                "-fno-omit-frame-pointer"],
    "thread": ["-O1", "-fsanitize=thread"],
}


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler on PATH (the tests compile their C programs)")
    return cc


def build(out_dir: Path, program: str, *, sanitize: str | None = None,
          sources: list[str] | None = None, include: list[str] | None = None,
          main_source: Path | None = None) -> Path:
    """Compile c/<program>.c (or main_source) + the C core into out_dir; return the path."""
    exe = out_dir / f"{program}{'-' + sanitize if sanitize else ''}"
    if exe.exists():
        return exe
    cmd = [compiler(), *STRICT, *SANITIZERS[sanitize], f"-I{INCLUDE}",
           *(f"-I{d}" for d in (include or [])), str(main_source or C_DIR / f"{program}.c"),
           *(sources if sources is not None else CORE_SOURCES), "-o", str(exe), "-pthread"]
    if os.uname().sysname == "Linux":
        cmd.append("-lrt")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 and sanitize and re.search(r"cannot find .*l(asan|tsan|ubsan)",
                                                          result.stderr):
        pytest.skip(f"the {sanitize} sanitizer runtime is not installed")
    if result.returncode != 0:
        raise AssertionError(f"compile failed: {' '.join(cmd)}\n{result.stderr}")
    return exe
