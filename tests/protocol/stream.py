"""numpy twin of c/stream.h: the deterministic audio and frame streams of the stress tests."""

from __future__ import annotations

import numpy as np

MAX_BLOCK_FRAMES = 64
MAX_FRAME_W = 64
MAX_FRAME_H = 48
_U = np.uint64


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 over a uint64 array (wraps like C's unsigned arithmetic)."""
    z = np.asarray(x, dtype=_U).reshape(-1) + _U(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
    return z ^ (z >> _U(31))


def block_lengths(seed: int, blocks: int) -> np.ndarray:
    """Frames of blocks 0..blocks-1 (int64)."""
    seqs = np.arange(blocks, dtype=_U) + _U(seed)
    return (_U(1) + splitmix64(seqs) % _U(MAX_BLOCK_FRAMES)).astype(np.int64)


def frame_checks(seq: np.ndarray, j: np.ndarray) -> np.ndarray:
    return (splitmix64((seq.astype(_U) << _U(16)) + j.astype(_U)) >> _U(32)).astype(np.uint32)


def expected_frames(starts: np.ndarray, first: int, count: int) -> np.ndarray:
    """Frames [first, first+count) of the stream as uint32 (count, 2): (seq, check)."""
    pos = np.arange(first, first + count, dtype=np.int64)
    seq = np.searchsorted(starts, pos, side="right") - 1
    j = pos - starts[seq]
    out = np.empty((count, 2), dtype=np.uint32)
    out[:, 0] = seq.astype(np.uint32)
    out[:, 1] = frame_checks(seq, j)
    return out


_M64 = (1 << 64) - 1


def splitmix64_int(x: int) -> int:
    """Scalar splitmix64 on Python ints (fast for one value)."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def frame_size(seed: int, k: int) -> tuple[int, int]:
    h = splitmix64_int(seed ^ ((k * 2654435761) & _M64))
    return 1 + h % MAX_FRAME_W, 1 + (h >> 20) % MAX_FRAME_H


_BASE = ((np.arange(MAX_FRAME_H)[:, None] * 13 + np.arange(MAX_FRAME_W * 4)[None, :] * 3)
         & 0xFF).astype(np.uint8)


def frame_pixels(k: int, width: int, height: int) -> np.ndarray:
    """RGBA8 pixels (height, width, 4) of frame k, as stream.h's fill_frame writes them."""
    rows = _BASE[:height, :width * 4] + np.uint8((k * 7) & 0xFF)  # uint8 arithmetic wraps
    flat = rows.reshape(-1)
    if flat.size >= 8:
        flat[:8] = np.frombuffer(int(k).to_bytes(8, "little"), dtype=np.uint8)
    return rows.reshape(height, width, 4)
