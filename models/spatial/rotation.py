"""Listener orientation and head-tracked rotation of AmbiX FOA, interpolated per sample.

Orientation convention (radians; axes x = front, y = left, z = up, see foa.py):

    R_head = Rz(yaw) @ Ry(-pitch) @ Rx(roll)     # intrinsic z-y'-x'', head frame -> world

* yaw   > 0: the head turns LEFT (counter-clockwise seen from above, same sense as azimuth).
* pitch > 0: the head looks UP.
* roll  > 0: the head tilts to the RIGHT (right ear down; rotation about the front axis).

Game engines use other signs; `listener_orientation(yaw, pitch, roll, engine)` converts
(same intrinsic yaw-pitch-roll order in all three):

* Unreal FRotator: yaw + = right, pitch + = up, roll + = clockwise seen from behind
  (right ear down)  ->  (-yaw, pitch, roll).
* Unity Transform.eulerAngles (y, x, z): yaw + = right, x + = look DOWN, z + = left ear
  down  ->  (-y, -x, -z).

Head tracking renders a world-anchored scene in the head frame: v_head = R_head^T v_world.
W is invariant; (X, Y, Z) rotate as a 3-vector, which in ACN storage is (ch3, ch1, ch2).

Between model steps the orientation is slerped per sample from the previous block's end
orientation to this block's, so the last sample of each block uses exactly the orientation
given with it and consecutive blocks join without a jump (tested). This module is not the
binaural decoder; it only rotates.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

Orientation = tuple[float, float, float]  # (yaw_rad, pitch_rad, roll_rad)


def _axis_quat(axis: int, angle_rad: float) -> np.ndarray:
    q = np.zeros(4)
    q[0] = math.cos(angle_rad / 2.0)
    q[1 + axis] = math.sin(angle_rad / 2.0)
    return q


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of quaternions (w, x, y, z); broadcasts over leading axes."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], -1)


def quaternion_from_euler(yaw_rad: float, pitch_rad: float, roll_rad: float) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of R_head = Rz(yaw) Ry(-pitch) Rx(roll)."""
    q = quat_multiply(_axis_quat(2, yaw_rad), _axis_quat(1, -pitch_rad))
    return quat_multiply(q, _axis_quat(0, roll_rad))


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from unit quaternions (..., 4) ordered (w, x, y, z)."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = np.moveaxis(q, -1, 0)
    r = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1)
    return r.reshape(q.shape[:-1] + (3, 3))


def rotation_matrix(yaw_rad: float, pitch_rad: float, roll_rad: float) -> np.ndarray:
    """R_head (3, 3): maps head-frame (x front, y left, z up) vectors to the world frame."""
    return matrix_from_quaternion(quaternion_from_euler(yaw_rad, pitch_rad, roll_rad))


def euler_from_matrix(r: np.ndarray) -> Orientation:
    """Inverse of `rotation_matrix`: (yaw, pitch, roll) in radians, pitch in [-pi/2, pi/2]."""
    r = np.asarray(r, dtype=np.float64)
    if r.shape != (3, 3):
        raise ConfigError(f"euler_from_matrix: expected shape (3, 3), found {r.shape}")
    pitch = math.asin(float(np.clip(r[2, 0], -1.0, 1.0)))
    yaw = math.atan2(r[1, 0], r[0, 0])
    roll = math.atan2(r[2, 1], r[2, 2])
    return yaw, pitch, roll


#: Sign flips (yaw, pitch, roll) from an engine's euler angles to this module's convention.
ENGINE_SIGNS: dict[str, tuple[float, float, float]] = {
    "livefoley": (1.0, 1.0, 1.0),
    "unreal": (-1.0, 1.0, 1.0),  # TRotator docs: yaw clockwise from above, pitch nose-up, roll clockwise along +X
    "unity": (-1.0, -1.0, -1.0),  # Quaternion.Euler(0,90,0)*forward = right; (90,0,0)*forward = down; (0,0,90)*up = left
}


def listener_orientation(yaw_rad: float, pitch_rad: float, roll_rad: float, engine: str = "livefoley") -> Orientation:
    """Convert an engine's camera euler angles (radians, yaw-pitch-roll order) to this convention.

    Raises:
        ConfigError: unknown engine.
    """
    signs = ENGINE_SIGNS.get(engine)
    if signs is None:
        raise ConfigError(f"listener_orientation: expected engine in {tuple(ENGINE_SIGNS)}, found {engine!r}")
    return signs[0] * yaw_rad, signs[1] * pitch_rad, signs[2] * roll_rad


def foa_rotation_matrix(r3: np.ndarray) -> np.ndarray:
    """(4, 4) matrix acting on ACN (W, Y, Z, X) columns that applies v' = r3 @ v to (X, Y, Z)."""
    r3 = np.asarray(r3, dtype=np.float64)
    if r3.shape != (3, 3):
        raise ConfigError(f"foa_rotation_matrix: expected shape (3, 3), found {r3.shape}")
    # ACN slot of each Cartesian axis: x -> 3, y -> 1, z -> 2.
    perm = (3, 1, 2)
    m = np.zeros((4, 4))
    m[0, 0] = 1.0
    for i in range(3):
        for j in range(3):
            m[perm[i], perm[j]] = r3[i, j]
    return m


def head_tracking_matrix(yaw_rad: float, pitch_rad: float, roll_rad: float) -> np.ndarray:
    """(4, 4) ACN matrix that renders a world-anchored AmbiX scene in the listener's head frame."""
    return foa_rotation_matrix(rotation_matrix(yaw_rad, pitch_rad, roll_rad).T)


def rotate_foa(foa: np.ndarray, m4: np.ndarray) -> np.ndarray:
    """Apply a constant (4, 4) ACN rotation matrix to (4, samples) FOA."""
    foa = np.asarray(foa)
    if foa.ndim != 2 or foa.shape[0] != 4:
        raise ConfigError(f"rotate_foa: expected FOA of shape (4, samples), found {foa.shape}")
    return (np.asarray(m4) @ foa).astype(foa.dtype, copy=False)


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc.

    Args:
        q0, q1: (4,) unit quaternions.
        t: (N,) fractions in [0, 1].

    Returns:
        (N, 4) unit quaternions.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    d = float(np.dot(q0, q1))
    if d < 0.0:  # q and -q are the same rotation; take the short way round
        q1, d = -q1, -d
    t = np.asarray(t, dtype=np.float64)[:, None]
    if d > 0.9995:  # nearly identical: normalised lerp avoids 0/0
        q = (1 - t) * q0 + t * q1
    else:
        omega = math.acos(d)
        s = math.sin(omega)
        q = (np.sin((1 - t) * omega) / s) * q0 + (np.sin(t * omega) / s) * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


class HeadTracker:
    """Streaming head-tracked rotation of AmbiX FOA with per-sample orientation slerp.

    Each `process` call takes one block and the listener orientation that holds at the
    block's last sample (e.g. from the newest frame descriptor). Sample n of an N-sample
    block uses slerp(previous, current, (n + 1) / N).

    Thread-safety: one caller at a time (holds the previous orientation).
    Real-time safe: no (allocates per block; ~0.45 ms CPU per 1600-sample block, bench_spatial).
    """

    def __init__(self, initial: Orientation = (0.0, 0.0, 0.0)) -> None:
        self._q = quaternion_from_euler(*initial)

    @property
    def orientation(self) -> Orientation:
        """The orientation reached at the end of the last processed block."""
        return euler_from_matrix(matrix_from_quaternion(self._q))

    def reset(self, orientation: Orientation = (0.0, 0.0, 0.0)) -> None:
        """Jump to `orientation` without interpolation (session start, teleport)."""
        self._q = quaternion_from_euler(*orientation)

    def process(self, block: np.ndarray, yaw_rad: float, pitch_rad: float,
                roll_rad: float) -> np.ndarray:
        """Rotate one (4, N) world-frame block into the head frame.

        Returns:
            (4, N) head-frame AmbiX block, same dtype as `block`.

        Raises:
            ConfigError: block not of shape (4, N) with N >= 1.
        """
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != 4 or block.shape[1] == 0:
            raise ConfigError(f"HeadTracker.process: expected a (4, N>0) block, found {block.shape}")
        n = block.shape[1]
        q1 = quaternion_from_euler(yaw_rad, pitch_rad, roll_rad)
        qs = slerp(self._q, q1, np.arange(1, n + 1) / n)  # (N, 4)
        r = matrix_from_quaternion(qs)  # (N, 3, 3) head -> world
        x, y, z = block[3], block[1], block[2]
        out = np.empty_like(block)
        out[0] = block[0]
        # v_head = R^T v_world per sample: component i is sum_j R[j, i] v_j.
        out[3] = r[:, 0, 0] * x + r[:, 1, 0] * y + r[:, 2, 0] * z
        out[1] = r[:, 0, 1] * x + r[:, 1, 1] * y + r[:, 2, 1] * z
        out[2] = r[:, 0, 2] * x + r[:, 1, 2] * y + r[:, 2, 2] * z
        self._q = q1 if float(np.dot(self._q, q1)) >= 0 else -q1
        return out


__all__ = [
    "Orientation",
    "ENGINE_SIGNS",
    "listener_orientation",
    "quat_multiply",
    "quaternion_from_euler",
    "matrix_from_quaternion",
    "rotation_matrix",
    "euler_from_matrix",
    "foa_rotation_matrix",
    "head_tracking_matrix",
    "rotate_foa",
    "slerp",
    "HeadTracker",
]
