"""The public ABI of liblivefoley cannot change silently: the header's prototypes, struct
layouts (measured by the compiler) and constants must match the checked-in manifest unless
LF_LIB_ABI_VERSION is bumped (and then the manifest must be regenerated)."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess

import pytest

from tests.engine_bindings import abi, cbuild

pytestmark = pytest.mark.skipif(not cbuild.compiler_available(),
                                reason=f"no C compiler ({cbuild.CC}) on PATH")


def test_header_matches_abi_manifest():
    problems = abi.check()
    assert not problems, "\n".join(problems)


def _mutated_header(tmp_path, old: str, new: str):
    (tmp_path / "livefoley").mkdir()
    text = abi.HEADER.read_text()
    assert old in text, f"mutation anchor {old!r} not found in the header"
    path = tmp_path / "livefoley" / "livefoley.h"
    path.write_text(text.replace(old, new, 1))
    return path


def test_struct_change_without_version_bump_is_refused(tmp_path):
    header = _mutated_header(tmp_path, "uint32_t sidecar_alive;",
                             "uint32_t sidecar_alive;\n    uint32_t new_field;")
    problems = abi.check(header=header)
    assert problems and "LF_LIB_ABI_VERSION is still 1" in problems[0]
    assert any("lf_stats_t" in p and "expected" in p and "found" in p for p in problems[1:])


def test_signature_change_without_version_bump_is_refused(tmp_path):
    header = _mutated_header(tmp_path, "float *out, uint32_t frames);",
                             "float *out, uint64_t frames);")
    problems = abi.check(header=header)
    assert problems and "bump it" in problems[0]
    assert any("functions.lf_read_audio" in p and "uint64_t frames" in p for p in problems)


def test_version_bump_without_new_manifest_is_refused(tmp_path):
    header = _mutated_header(tmp_path, "#define LF_LIB_ABI_VERSION 1u",
                             "#define LF_LIB_ABI_VERSION 2u")
    problems = abi.check(header=header)
    assert problems and "manifest expected 1, header found 2" in problems[0]


def test_manifest_pins_the_struct_sizes_engines_mirror():
    manifest = json.loads(abi.MANIFEST.read_text())
    structs = manifest["structs"]
    # The C# and C++ bindings mirror these; every struct starts with struct_size.
    for name, layout in structs.items():
        assert layout["fields"]["struct_size"] == [0, 4], name
        assert layout["size"] % 8 == 0, f"{name}: size {layout['size']} not 8-aligned"


def test_library_reports_the_manifest_abi_version(lf_build):
    lib_path = lf_build("plain").shared_library()
    lib = ctypes.CDLL(str(lib_path))
    lib.lf_abi_version.restype = ctypes.c_uint32
    lib.lf_error_string.restype = ctypes.c_char_p
    lib.lf_error_string.argtypes = [ctypes.c_int]
    expected = json.loads(abi.MANIFEST.read_text())["abi_version"]
    assert lib.lf_abi_version() == expected
    assert lib.lf_error_string(-30) == b"CUDA driver library not available"



@pytest.mark.parametrize("lang,flags", [
    ("c++", ["-x", "c++", "-std=c++17"]),     # Unreal includes it from C++
    ("c99", ["-x", "c", "-std=c99", "-pedantic"]),
])
def test_public_header_compiles_standalone(tmp_path, lang, flags):
    src = tmp_path / "use.c"
    src.write_text('#include "livefoley/livefoley.h"\n'
                   "int main(void) { lf_session_t *s = 0; float b[2];\n"
                   "  return (int)lf_read_audio(s, b, 1) == LF_ERR_INVALID_ARG ? 0 : 1; }\n")
    compiler = "g++" if lang == "c++" else cbuild.CC
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not on PATH")
    proc = subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           f"-I{cbuild.LIB_INCLUDE}", str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
