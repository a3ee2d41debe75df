"""liblivefoley's C feature tests, compiled with -std=c11 -Wall -Wextra -Werror and run
under AddressSanitizer + UndefinedBehaviorSanitizer (and ThreadSanitizer for the threaded
reader). Each C program prints "ok" and exits 0, or names every failed check with the
expected and found values.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.engine_bindings import cbuild

pytestmark = pytest.mark.skipif(not cbuild.compiler_available(),
                                reason=f"no C compiler ({cbuild.CC}) on PATH")

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stack=1",
}


@pytest.fixture
def asan(lf_build):
    return lf_build("asan")


@pytest.fixture
def tsan(lf_build):
    return lf_build("tsan")


def run_program(exe, timeout_s: float = 60.0) -> None:
    env = dict(os.environ, **SANITIZER_ENV)
    env.pop("LF_CUDA_DRIVER_LIBRARY", None)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=env,
                          timeout=timeout_s)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (
        f"{exe.name}: expected exit 0 and 'ok', found exit {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-8000:]}")
    assert "runtime error" not in proc.stderr, proc.stderr[-4000:]


@pytest.mark.parametrize("feature", ["session", "audio", "frames"])
def test_feature_under_asan_ubsan(asan, feature):
    run_program(asan.program(f"test_{feature}", [cbuild.TEST_SRC / f"test_{feature}.c"]))


def test_spawn_and_await_under_asan_ubsan(asan):
    sidecar = asan.fake_sidecar()
    exe = asan.program("test_spawn", [cbuild.TEST_SRC / "test_spawn.c"],
                       {"LF_FAKE_SIDECAR": str(sidecar)})
    run_program(exe)


@pytest.mark.parametrize("feature", ["cuda_absent", "cuda_fake"])
def test_cuda_publisher_under_asan_ubsan(asan, feature):
    exe = asan.program(f"test_{feature}", [cbuild.TEST_SRC / f"test_{feature}.c"],
                       {"LF_FAKE_CUDA": str(asan.fake_cuda())})
    run_program(exe)


def test_threaded_reader_under_tsan(tsan):
    run_program(tsan.program("test_audio_thread", [cbuild.TEST_SRC / "test_audio_thread.c"]))


def test_threaded_reader_under_asan_ubsan(asan):
    run_program(asan.program("test_audio_thread", [cbuild.TEST_SRC / "test_audio_thread.c"]))


@pytest.mark.skipif(shutil.which("nm") is None, reason="binutils nm not on PATH")
def test_shared_library_exports_only_the_public_api(asan):
    """The .so exports the lf_* API of livefoley.h and nothing of the protocol core."""
    lib = asan.shared_library()
    proc = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True,
                          text=True, check=True)
    exported = {line.split()[-1] for line in proc.stdout.splitlines()
                if line.split()[1:2] == ["T"]}
    from tests.engine_bindings import abi
    declared = set(abi.parse_prototypes(abi.HEADER.read_text()))
    assert exported == declared, (
        f"expected exports {sorted(declared)}, found extra {sorted(exported - declared)} "
        f"and missing {sorted(declared - exported)}")


@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_unity_native_audio_plugin(variant, request):
    build = request.getfixturevalue(variant)
    exe = build.program("test_unity_plugin", [cbuild.TEST_SRC / "test_unity_plugin.c",
                                              cbuild.UNITY_PLUGIN_SRC / "AudioPluginLiveFoley.c"])
    run_program(exe)
