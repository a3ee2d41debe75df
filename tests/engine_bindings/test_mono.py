"""The Unity package's managed core under Mono: the parts of engine_bindings/unity that do
not need UnityEngine (Runtime/Core: P/Invoke layer, LiveFoleySession, AudioReader) are
compiled with `mcs` together with tests/engine_bindings/mono/LiveFoleyMonoTest.cs, which
creates a session through liblivefoley, starts a sidecar, reads audio at a 48 kHz cadence
(10 ms blocks) and publishes frames.

Two sidecars: the stand-in (tests/engine_bindings/c/fake_sidecar.c, a known 440 Hz signal,
strict checks: no underrun after the first full block), and the real `livefoley serve`
(marked slow: it imports torch; checks that audio flows and is not silent, and records
underruns, since a CPU model on a loaded 2-core machine need not keep real time).
Skipped, with the reason printed, when mcs or mono is missing (Debian: mono-mcs,
mono-runtime; `make test` installs them).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.engine_bindings import abi, cbuild

HERE = pathlib.Path(__file__).resolve().parent
CORE = cbuild.REPO / "engine_bindings" / "unity" / "Runtime" / "Core"

MISSING = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
if MISSING:
    print(f"test_mono: skipped, {' and '.join(MISSING)} not on PATH "
          f"(install Debian's mono-mcs and mono-runtime)", file=sys.stderr)
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH "
                       "(install Debian's mono-mcs and mono-runtime)"),
    pytest.mark.skipif(not cbuild.compiler_available(), reason="no C compiler"),
]

# C field -> C# field, where the C# mirror spells a reserved array as scalar fields.
CS_NAME = {("lf_session_config_t", "reserved"): "reserved0",
           ("lf_stats_t", "reserved"): "reserved1"}


@pytest.fixture
def plain(lf_build):
    return lf_build("plain")


@pytest.fixture
def mono_exe(plain):
    out = plain.dir / "LiveFoleyMonoTest.exe"
    if out.exists():
        return out
    sources = sorted(str(p) for p in CORE.glob("*.cs"))
    proc = subprocess.run(["mcs", "-unsafe", "-warnaserror+", f"-out:{out}", *sources,
                           str(HERE / "mono" / "LiveFoleyMonoTest.cs")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"mcs failed:\n{proc.stdout}{proc.stderr}"
    return out


def run_mono(plain, mono_exe, name, sidecar, model, seconds, await_ms, timeout_s):
    lib = plain.shared_library()
    env = dict(os.environ, LD_LIBRARY_PATH=f"{lib.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    proc = subprocess.run(["mono", "--debug", str(mono_exe), name, str(sidecar), model,
                           str(seconds), str(await_ms)],
                          capture_output=True, text=True, env=env, timeout=timeout_s)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            key, _, value = line[7:].partition("=")
            results[key] = value
    assert proc.returncode == 0 and results.get("failures") == "0", (
        f"mono test: expected exit 0 and failures=0, found exit {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return results


def check_layout(results):
    manifest = json.loads(abi.MANIFEST.read_text())
    assert int(results["abi"]) == manifest["abi_version"]
    for struct, layout in manifest["structs"].items():
        assert int(results[f"sizeof.{struct}"]) == layout["size"], struct
        for field, (offset, _size) in layout["fields"].items():
            cs = CS_NAME.get((struct, field), field)
            found = int(results[f"offsetof.{struct}.{cs}"])
            assert found == offset, f"{struct}.{field}: C offset {offset}, C# offset {found}"


def test_mono_core_with_stand_in_sidecar(plain, mono_exe, session_name):
    r = run_mono(plain, mono_exe, session_name, plain.fake_sidecar(), "-", 2, 10000, 60)
    check_layout(r)
    for key in ("attach_missing", "create_twice", "spawn_missing"):
        assert r[key] == "ok", key
    assert r["channels"] == "2" and r["sample_rate_hz"] == "48000"
    assert int(r["start_block"]) <= 5, "audio should flow within 50 ms of the sidecar's heartbeat"
    assert int(r["silent_frames_after_start"]) == 0, "no underrun after start"
    # The stand-in plays 0.5*sin on the left and half of it on the right.
    assert abs(float(r["rms_left"]) - 0.5 / 2 ** 0.5) < 0.01
    assert abs(float(r["rms_right"]) - 0.25 / 2 ** 0.5) < 0.01
    assert abs(float(r["peak_left"]) - 0.5) < 0.01 and abs(float(r["peak_right"]) - 0.25) < 0.01
    assert abs(float(r["mono_peak"]) - 0.375) < 0.01, "mono output = average of the channels"
    assert abs(float(r["six_peak_front"]) - 0.5) < 0.01 and float(r["six_peak_extra"]) == 0.0
    assert r["sidecar_alive"] == "1"


def _real_sidecar():
    exe = pathlib.Path(sys.executable).parent / "livefoley"
    try:
        import livefoley.sidecar.serve  # noqa: F401
    except ImportError as exc:
        return None, f"livefoley serve not importable: {exc}"
    return (exe, "") if exe.exists() else (None, f"{exe} not installed")


@pytest.mark.slow
def test_mono_core_with_real_sidecar(plain, mono_exe, session_name, capsys):
    exe, reason = _real_sidecar()
    if exe is None:
        pytest.skip(reason)
    r = run_mono(plain, mono_exe, session_name, exe, "-", 4, 90000, 240)
    check_layout(r)
    assert r["channels"] == "2" and r["stats_channels"] == "2"
    assert int(r["real_frames"]) > 0, "the real sidecar must deliver audio"
    assert float(r["rms_left"]) > 1e-3, "audio must not be silent"
    assert r["sidecar_alive"] == "1", r["sidecar_problem"]
    published, dropped = int(r["stats_frames_published"]), int(r["stats_frames_dropped"])
    assert published > 0 and dropped < published, (
        f"the sidecar must take some of the {published} published frames, found {dropped} dropped")
    with capsys.disabled():
        print(f"\n[real sidecar] await {r['await_ms']} ms, real frames {r['real_frames']} of "
              f"{int(r['blocks']) * 480}, silent after start {r['silent_frames_after_start']}, "
              f"rms L {float(r['rms_left']):.3f}, frames taken {published - dropped} of {published}")
