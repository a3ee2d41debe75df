"""Rotation conventions, inverse identity, and block-interpolated head tracking."""

import math

import numpy as np
import pytest

from livefoley.models.spatial import foa, rotation
from livefoley.protocol.errors import ConfigError


def test_convention_axes():
    x, y, z = np.eye(3)
    np.testing.assert_allclose(rotation.rotation_matrix(math.pi / 2, 0, 0) @ x, y, atol=1e-12)  # yaw left
    p = 0.3
    np.testing.assert_allclose(rotation.rotation_matrix(0, p, 0) @ x, [math.cos(p), 0, math.sin(p)],
                               atol=1e-12)  # pitch up
    r = 0.4
    np.testing.assert_allclose(rotation.rotation_matrix(0, 0, r) @ y, [0, math.cos(r), math.sin(r)],
                               atol=1e-12)  # roll: left ear up = right ear down


def test_euler_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(50):
        ypr = (rng.uniform(-math.pi, math.pi), rng.uniform(-1.5, 1.5), rng.uniform(-math.pi, math.pi))
        back = rotation.euler_from_matrix(rotation.rotation_matrix(*ypr))
        np.testing.assert_allclose(rotation.rotation_matrix(*back), rotation.rotation_matrix(*ypr), atol=1e-9)


def test_yaw_then_inverse_is_identity():
    sig = np.random.default_rng(2).standard_normal(256).astype(np.float32)
    scene = foa.encode_mono(sig, 1.1, 0.2) + foa.encode_mono(sig[::-1].copy(), -2.0, -0.5)
    for yaw in (0.3, -1.7, math.pi):
        m = rotation.foa_rotation_matrix(rotation.rotation_matrix(yaw, 0, 0))
        m_inv = rotation.foa_rotation_matrix(rotation.rotation_matrix(-yaw, 0, 0))
        np.testing.assert_allclose(rotation.rotate_foa(rotation.rotate_foa(scene, m), m_inv), scene, atol=1e-5)
        assert not np.allclose(rotation.rotate_foa(scene, m), scene, atol=1e-3)


def test_yaw_rotation_formula_matches_reference_note():
    # spatial.md 3.2: yaw by a: X' = cos a X - sin a Y, Y' = sin a X + cos a Y.
    a = 0.8
    m = rotation.foa_rotation_matrix(rotation.rotation_matrix(a, 0, 0))
    np.testing.assert_allclose(m[3], [0, -math.sin(a), 0, math.cos(a)], atol=1e-12)
    np.testing.assert_allclose(m[1], [0, math.cos(a), 0, math.sin(a)], atol=1e-12)


def test_head_turned_left_hears_front_source_on_the_right():
    sig = np.ones(8, np.float32)
    head = rotation.rotate_foa(foa.encode_mono(sig, 0.0, 0.0), rotation.head_tracking_matrix(math.pi / 2, 0, 0))
    np.testing.assert_allclose(head[1], -1.0, atol=1e-6)  # Y = -1: to the right
    np.testing.assert_allclose(head[3], 0.0, atol=1e-6)


def test_head_tracker_block_end_uses_given_orientation_exactly():
    sig = np.random.default_rng(3).standard_normal(1600).astype(np.float32)
    block = foa.encode_mono(sig, 0.5, 0.1)
    tr = rotation.HeadTracker((0.0, 0.0, 0.0))
    out = tr.process(block, 0.9, 0.2, -0.1)
    expected_last = rotation.head_tracking_matrix(0.9, 0.2, -0.1) @ block[:, -1]
    np.testing.assert_allclose(out[:, -1], expected_last, atol=1e-5)
    np.testing.assert_allclose(tr.orientation, (0.9, 0.2, -0.1), atol=1e-9)


def test_head_tracker_no_discontinuity_at_block_boundaries():
    # A constant-amplitude source (DC) makes any orientation jump show as a step in the output.
    n_block, blocks = 1600, 12
    sig = np.ones(n_block * blocks, np.float32)
    world = foa.encode_mono(sig, 0.0, 0.0)
    yaws = np.linspace(0, 2.5, blocks)  # a fast head turn: 0.23 rad per 33 ms block
    tr = rotation.HeadTracker()
    out = np.concatenate([tr.process(world[:, k * n_block:(k + 1) * n_block], yaws[k], 0.1 * k, 0)
                          for k in range(blocks)], axis=1)
    steps = np.abs(np.diff(out, axis=1)).max(axis=0)  # (samples - 1,)
    boundary = steps[n_block - 1::n_block]
    within = np.delete(steps, np.arange(n_block - 1, steps.size, n_block))
    assert boundary.max() <= 1.01 * within.max() + 1e-7
    assert within.max() < 2e-4  # per-sample rotation step is tiny: no zipper
    # Negative control: switching matrices per block without interpolation jumps.
    hard = np.concatenate([rotation.head_tracking_matrix(yaws[k], 0.1 * k, 0) @ world[:, k * n_block:(k + 1) * n_block]
                           for k in range(blocks)], axis=1)
    assert np.abs(np.diff(hard, axis=1)).max() > 100 * within.max()


def test_head_tracker_rejects_bad_block():
    with pytest.raises(ConfigError, match=r"\(4, N>0\).*\(2, 5\)"):
        rotation.HeadTracker().process(np.zeros((2, 5)), 0, 0, 0)


@pytest.mark.parametrize("engine, ypr, axis, expected", [
    # Unity: Quaternion.Euler(0, 90, 0) * forward = right; Euler(90, 0, 0) * forward = down;
    # Euler(0, 0, 90) * up = left.
    ("unity", (math.pi / 2, 0, 0), 0, (0, -1, 0)),
    ("unity", (0, math.pi / 2, 0), 0, (0, 0, -1)),
    ("unity", (0, 0, math.pi / 2), 2, (0, 1, 0)),
    # Unreal TRotator: yaw clockwise from above (right), pitch nose-up, roll clockwise along +X.
    ("unreal", (math.pi / 2, 0, 0), 0, (0, -1, 0)),
    ("unreal", (0, math.pi / 2, 0), 0, (0, 0, 1)),
    ("unreal", (0, 0, math.pi / 2), 2, (0, -1, 0)),
    ("livefoley", (math.pi / 2, 0, 0), 0, (0, 1, 0)),
])
def test_engine_orientation_conventions(engine, ypr, axis, expected):
    """The head's front (axis 0) or up (axis 2) vector after the engine's rotation, in our axes."""
    r = rotation.rotation_matrix(*rotation.listener_orientation(*ypr, engine))
    np.testing.assert_allclose(r[:, axis], expected, atol=1e-12)


def test_unknown_engine_names_valid_ones():
    with pytest.raises(ConfigError, match=r"'livefoley', 'unreal', 'unity'.*'godot'"):
        rotation.listener_orientation(0, 0, 0, "godot")
