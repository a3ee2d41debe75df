"""The documented build works: `cmake -S engine_bindings -B build && cmake --build build`
produces liblivefoley and the Unity native audio plugin. (The C tests it can also build and
run with ctest are the programs test_c_api.py runs under the sanitizers.)"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import pytest

from tests.engine_bindings import cbuild


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not on PATH (Debian: cmake)")
def test_cmake_build(tmp_path):
    build = tmp_path / "build"
    for cmd in (["cmake", "-S", str(cbuild.REPO / "engine_bindings"), "-B", str(build),
                 "-DLF_BUILD_TESTS=OFF"],
                ["cmake", "--build", str(build), "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
    lib = ctypes.CDLL(str(build / "liblivefoley.so"))
    lib.lf_abi_version.restype = ctypes.c_uint32
    assert lib.lf_abi_version() == 1
    plugin = ctypes.CDLL(str(build / "libAudioPluginLiveFoley.so"))
    assert plugin.LiveFoleyAudioPlugin_SlotCount() == 8
