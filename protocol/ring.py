"""Audio ring over the session segment, from Python.

One producer (the sidecar), one consumer (normally the engine's audio thread, in C). Every
call goes to the same C11 code the engine links (`lf_audio_view_write` / `_read`, over a
geometry snapshot validated once), so the acquire/release ordering holds on ARM64 as on
x86; Python adds only argument checks.
What it is not: a second implementation of the ring, or a place that blocks: a full ring
accepts fewer frames, an empty one yields silence.
"""

from __future__ import annotations

import numpy as np

from .errors import ProtocolError
from .native import check, ffi, lib, new_err

_MAX_CALL_FRAMES = 0xFFFFFFFF
_F32 = np.dtype(np.float32)


class AudioRing:
    """SPSC float32 interleaved ring, `capacity_frames` x `channels`.

    Thread-safety: one producer thread calls `write`, one consumer thread `read_into`.
    Real-time safe: the C calls are; the Python wrapper allocates small objects.
    """

    def __init__(self, base, *, mapped_bytes: int, where: str) -> None:
        """Snapshot the ring's geometry once (validated), like an engine's reader does.

        Raises:
            ProtocolError: the segment's header does not validate.
        """
        self._base = base
        self._where = where
        self._view = ffi.new("lf_audio_view_t *")
        err = new_err()
        check(lib.lf_audio_view_init(self._view, base, mapped_bytes, err, len(err)), where, err)
        self.capacity_frames = int(self._view.capacity_frames)
        self.channels = int(self._view.channels)
        self._open = True

    def _detach(self) -> None:
        """Called by Session.close: the view's pointers die with the mapping."""
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise ProtocolError(f"{self._where}: expected an open session, found it closed")

    def _check_block(self, block: np.ndarray, what: str) -> None:
        # Fast path first: this runs once per block on the producer's hot loop.
        if type(block) is np.ndarray and block.dtype is _F32 and block.ndim == 2 \
                and block.shape[1] == self.channels and block.shape[0] <= _MAX_CALL_FRAMES:
            return
        if not isinstance(block, np.ndarray):
            raise ProtocolError(
                f"{self._where}: {what}: expected a numpy float32 array (n, {self.channels}), "
                f"found {type(block).__name__}"
            )
        if block.dtype != np.float32 or block.ndim != 2 or block.shape[1] != self.channels:
            raise ProtocolError(
                f"{self._where}: {what}: expected float32 (n, {self.channels}), "
                f"found {block.dtype} {block.shape}"
            )
        if block.shape[0] > _MAX_CALL_FRAMES:
            raise ProtocolError(
                f"{self._where}: {what}: expected at most {_MAX_CALL_FRAMES} frames, "
                f"found {block.shape[0]}"
            )

    def write(self, block: np.ndarray) -> int:
        """Append as many frames of `block` as fit; never overwrites unread audio.

        Args:
            block: float32 array of shape (n, channels).

        Returns:
            Frames accepted (< n when the ring is full; the rest counts as overflow).

        Raises:
            ProtocolError: wrong dtype or shape (expected and found named).

        Thread-safety: producer side only.
        Real-time safe: the C path is; this wrapper is not (Python).
        """
        self._check_block(block, "write")
        self._check_open()
        if not block.flags.c_contiguous:
            block = np.ascontiguousarray(block)
        n = block.shape[0]
        if n == 0:
            return 0
        return int(lib.lf_audio_view_write(self._view, ffi.from_buffer("float[]", block), n))

    def read_into(self, out: np.ndarray) -> int:
        """Fill all of `out`: available frames first, then silence (counted as underrun).

        Args:
            out: writable, C-contiguous float32 array of shape (n, channels).

        Returns:
            Real frames copied; frames [returned:] are zeros.

        Raises:
            ProtocolError: wrong dtype, shape, contiguity or a read-only array.

        Thread-safety: consumer side only.
        Real-time safe: the C path is; this wrapper is not (Python).
        """
        self._check_block(out, "read_into")
        self._check_open()
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ProtocolError(
                f"{self._where}: read_into: expected a writable C-contiguous array, "
                f"found contiguous={out.flags.c_contiguous} writeable={out.flags.writeable}"
            )
        n = out.shape[0]
        if n == 0:
            return 0
        return int(lib.lf_audio_view_read(self._view, ffi.from_buffer("float[]", out, True), n))

    def fill_frames(self) -> int:
        """Frames written but not yet read. Thread-safety: either side. Real-time safe: yes."""
        self._check_open()
        return int(lib.lf_audio_fill_frames(self._base))

    def free_frames(self) -> int:
        """Frames a write could place now. Thread-safety: either side. Real-time safe: yes."""
        self._check_open()
        return int(lib.lf_audio_free_frames(self._base))

    def reset_position(self, position: int) -> None:
        """Move both counters to `position`, emptying the ring.

        Only while no producer or consumer runs (re-priming, tests near 2**64).
        """
        self._check_open()
        lib.lf_audio_reset_position(self._base, position)
