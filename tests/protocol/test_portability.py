"""The C core builds where CI cannot run it: the Win32 path (cross-compiled with MinGW when
present) and the header included from C++ (Unreal plugin, Unity native plugin)."""

import re
import shutil
import subprocess

import pytest

from .cbuild import CORE_SOURCES, INCLUDE, STRICT

MINGW = shutil.which("x86_64-w64-mingw32-gcc")
CXX = shutil.which("g++") or shutil.which("clang++")


@pytest.mark.skipif(MINGW is None, reason="no MinGW cross compiler (apt: gcc-mingw-w64-x86-64)")
@pytest.mark.parametrize("source", CORE_SOURCES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_windows_path_compiles_warning_free(tmp_path, source):
    out = subprocess.run([MINGW, *STRICT, "-pedantic", f"-I{INCLUDE}", "-c", source, "-o",
                          str(tmp_path / "x.o")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(CXX is None, reason="no C++ compiler")
def test_header_is_valid_cplusplus(tmp_path):
    src = tmp_path / "use.cpp"
    src.write_text('#include "livefoley/protocol.h"\n'
                   "static_assert(sizeof(lf_header_t) == 1024, \"layout\");\n"
                   "static_assert(sizeof(lf_frame_desc_t) == 64, \"layout\");\n"
                   "int main() { return LF_OK; }\n")
    out = subprocess.run([CXX, "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE}",
                          "-fsyntax-only", str(src)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


A64 = shutil.which("aarch64-linux-gnu-gcc")


def _function_asm(asm: str, name: str) -> str:
    """The function's instructions plus those of the file-local functions it calls."""
    start = asm.index(f"\n{name}:\n")
    body = asm[start:asm.index(f".size\t{name},", start)]
    for callee in set(re.findall(r"\bbl?\t(\w+)", body)):
        if f"\n{callee}:\n" in asm and callee != name:
            body += _function_asm(asm, callee)
    return body


@pytest.mark.skipif(A64 is None, reason="no AArch64 cross compiler (apt: gcc-aarch64-linux-gnu)")
def test_arm64_code_carries_the_acquire_release_barriers(tmp_path):
    """On ARM64 the ordering is the instructions: LDAR/STLR for the ring's counters and an
    acquire-release swap for the mailbox. A relaxed access would compile to LDR/STR."""
    asm = {}
    for name in ("audio", "frames"):
        out = subprocess.run([A64, "-std=c11", "-O2", f"-I{INCLUDE}", "-S", "-o", "-",
                              next(s for s in CORE_SOURCES if s.endswith(f"/{name}.c"))],
                             capture_output=True, text=True, check=True)
        asm[name] = out.stdout
    for fn in ("lf_audio_write", "lf_audio_read", "lf_audio_view_write", "lf_audio_view_read"):
        body = _function_asm(asm["audio"], fn)
        assert "ldar\t" in body and "stlr\t" in body, f"{fn} lost its acquire/release:\n{body}"
    for fn in ("lf_frame_commit", "lf_frame_acquire"):
        body = _function_asm(asm["frames"], fn)
        assert "swp4_acq_rel" in body or "swpal\t" in body, f"{fn}: no acq_rel swap:\n{body}"
