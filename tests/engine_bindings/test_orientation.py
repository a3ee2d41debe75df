"""The Unity package converts its camera's euler angles to LiveFoley's orientation convention
before publishing (engine_bindings/unity/Runtime/Core/ListenerOrientation.cs), checked under
Mono against an independent model of Unity's rotations.

Unity: left-handed axes x right, y up, z forward; `Quaternion.Euler(x, y, z)` rotates z degrees
about z, then x about x, then y about y (extrinsic), i.e. R = Ry(y) Rx(x) Rz(z) acting on column
vectors, with +y turning forward towards +x (right), +x turning forward towards -y (down), +z
turning up towards -x (left ear down). LiveFoley (protocol/README.md): right-handed x front,
y left, z up; R_head = Rz(yaw) Ry(-pitch) Rx(roll). A Unity vector (ux, uy, uz) is the LiveFoley
vector (uz, -ux, uy), so the two descriptions of one head pose must satisfy
R_livefoley = P R_unity P^-1 with P the axis map (a reflection: the handedness changes).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.engine_bindings import cbuild

UNITY_CORE = cbuild.REPO / "engine_bindings" / "unity" / "Runtime" / "Core"
MONO_TEST = cbuild.REPO / "tests" / "engine_bindings" / "mono" / "OrientationMonoTest.cs"

MISSING = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
if MISSING:
    print(f"test_orientation: skipped, {' and '.join(MISSING)} not on PATH", file=sys.stderr)
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH "
                                "(install Debian's mono-mcs and mono-runtime)")

P = np.array([[0, 0, 1], [-1, 0, 0], [0, 1, 0]], dtype=np.float64)  # Unity (x, y, z) -> LiveFoley


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def unity_rotation(x_deg, y_deg, z_deg):
    return _ry(np.radians(y_deg)) @ _rx(np.radians(x_deg)) @ _rz(np.radians(z_deg))


def livefoley_rotation(yaw, pitch, roll):
    return _rz(yaw) @ _ry(-pitch) @ _rx(roll)


@pytest.fixture(scope="module")
def convert(tmp_path_factory):
    exe = tmp_path_factory.mktemp("orientation") / "OrientationMonoTest.exe"
    proc = subprocess.run(["mcs", "-warnaserror+", f"-out:{exe}", str(UNITY_CORE / "ListenerOrientation.cs"),
                           str(MONO_TEST)], capture_output=True, text=True)
    assert proc.returncode == 0, f"mcs failed:\n{proc.stdout}{proc.stderr}"

    def run(angles):
        text = "".join(f"{x!r} {y!r} {z!r}\n" for x, y, z in angles)
        out = subprocess.run(["mono", str(exe)], input=text, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])

    return run


def test_unity_conversion_matches_unity_rotations(convert):
    rng = np.random.default_rng(0)
    # eulerAngles as Unity reports them ([0, 360)), plus out-of-range and negative inputs.
    angles = [(0.0, 0.0, 0.0), (0.0, 90.0, 0.0), (0.0, 270.0, 0.0), (350.0, 0.0, 0.0), (0.0, 0.0, 30.0),
              (0.0, 180.0, 0.0), (-45.0, 725.0, -10.0)]
    angles += [tuple(float(v) for v in row) for row in rng.uniform(0, 360, (40, 3)).round(3)]
    got = convert(angles)
    assert got.shape == (len(angles), 3)
    assert np.all(got > -np.pi) and np.all(got <= np.pi + 1e-6), "angles wrapped to (-pi, pi]"
    for (x, y, z), (yaw, pitch, roll) in zip(angles, got):
        expect = P @ unity_rotation(x, y, z) @ P.T
        np.testing.assert_allclose(livefoley_rotation(yaw, pitch, roll), expect, atol=2e-6,
                                   err_msg=f"Unity euler ({x}, {y}, {z})")


def test_unity_conversion_by_meaning(convert):
    # Turning right is yaw < 0; looking down (x = +10) is pitch < 0; left ear down (z = +20) is roll < 0.
    got = convert([(0.0, 90.0, 0.0), (10.0, 0.0, 0.0), (0.0, 0.0, 20.0), (0.0, 180.0, 0.0)])
    np.testing.assert_allclose(got[0], [-np.pi / 2, 0, 0], atol=1e-6)
    np.testing.assert_allclose(got[1], [0, -np.radians(10), 0], atol=1e-6)
    np.testing.assert_allclose(got[2], [0, 0, -np.radians(20)], atol=1e-6)
    np.testing.assert_allclose(got[3], [np.pi, 0, 0], atol=1e-6)  # a half turn is +pi


def test_unity_conversion_agrees_with_models_listener_orientation(convert):
    from livefoley.models.spatial.rotation import listener_orientation

    angles = [(20.0, 30.0, 10.0), (-5.0, -60.0, 15.0)]
    got = convert(angles)
    for (x, y, z), row in zip(angles, got):
        np.testing.assert_allclose(row, listener_orientation(np.radians(y), np.radians(x), np.radians(z), "unity"),
                                   atol=1e-6)


# --- Unreal: LiveFoleyOrientation.h is engine-free C++, compiled here with g++ -------------

UNREAL_HEADER = (cbuild.REPO / "engine_bindings" / "unreal" / "LiveFoley" / "Source" / "LiveFoley" / "Public"
                 / "LiveFoleyOrientation.h")
UNREAL_DRIVER = r"""
#include "LiveFoleyOrientation.h"
#include <cstdio>
int main() {
    double y, p, r;
    while (std::scanf("%lf %lf %lf", &y, &p, &r) == 3) {
        const LiveFoley::FListenerOrientation o = LiveFoley::ToListenerOrientation(y, p, r);
        std::printf("%.9g %.9g %.9g\n", o.YawRad, o.PitchRad, o.RollRad);
    }
    return 0;
}
"""


def unreal_axes(yaw_deg, pitch_deg, roll_deg):
    """Unreal's FRotationMatrix rows: the head's forward, right and up axes in Unreal's world
    (left-handed x forward, y right, z up), from UE's own formulas (Engine/Source/Runtime/Core/
    Public/Math/RotationTranslationMatrix.h)."""
    sp, sy, sr = (np.sin(np.radians(a)) for a in (pitch_deg, yaw_deg, roll_deg))
    cp, cy, cr = (np.cos(np.radians(a)) for a in (pitch_deg, yaw_deg, roll_deg))
    forward = np.array([cp * cy, cp * sy, sp])
    right = np.array([sr * sp * cy - cr * sy, sr * sp * sy + cr * cy, -sr * cp])
    up = np.array([-(cr * sp * cy + sr * sy), cy * sr - cr * sp * sy, cr * cp])
    return forward, right, up


@pytest.fixture(scope="module")
def convert_unreal(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    d = tmp_path_factory.mktemp("unreal_orientation")
    (d / "main.cpp").write_text(UNREAL_DRIVER)
    exe = d / "orient"
    proc = subprocess.run([cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", str(UNREAL_HEADER.parent),
                           str(d / "main.cpp"), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

    def run(angles):
        text = "".join(f"{y!r} {p!r} {r!r}\n" for y, p, r in angles)
        out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])

    return run


def test_unreal_conversion_matches_unreal_rotations(convert_unreal):
    rng = np.random.default_rng(1)
    angles = [(0.0, 0.0, 0.0), (90.0, 0.0, 0.0), (180.0, 0.0, 0.0), (-180.0, 10.0, 0.0), (0.0, 30.0, 0.0),
              (0.0, 0.0, 25.0), (450.0, -20.0, 370.0)]
    angles += [tuple(float(v) for v in row) for row in rng.uniform(-180, 180, (40, 3)).round(3)]
    got = convert_unreal(angles)
    assert got.shape == (len(angles), 3)
    assert np.all(got > -np.pi) and np.all(got <= np.pi + 1e-6), "angles wrapped to (-pi, pi]"
    flip_y = np.diag([1.0, -1.0, 1.0])  # Unreal (x fwd, y right, z up) -> LiveFoley (x fwd, y left, z up)
    for (y, p, r), (yaw, pitch, roll) in zip(angles, got):
        forward, right, up = unreal_axes(y, p, r)
        # Columns of R_head: the head's front, left and up axes in LiveFoley's world.
        expect = np.stack([flip_y @ forward, flip_y @ -right, flip_y @ up], axis=1)
        np.testing.assert_allclose(livefoley_rotation(yaw, pitch, roll), expect, atol=2e-6,
                                   err_msg=f"FRotator(Yaw={y}, Pitch={p}, Roll={r})")
    np.testing.assert_allclose(got[1], [-np.pi / 2, 0, 0], atol=1e-6)  # Yaw 90 = turned right
    np.testing.assert_allclose(got[2], [np.pi, 0, 0], atol=1e-6)
