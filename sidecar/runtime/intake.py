"""Frame intake for one session: take a frame from the pool, check it, stage it, release it.

What it is: the sidecar's side of the frame slots. Host-memory frames are copied once into a
per-session staging array (a 320x240 RGB frame is ~230 kB, tens of microseconds) and the slot
is released at once, so the host's next frame is never held up by a model step and a stalled
game can be voiced from its last frame. GPU frames are viewed through `GpuFrameImporter`
(import once, wait on the producer's event or fence, zero-copy view) and cloned on the device
before release, for the same reason.

A bad descriptor never stops the stream: the protocol's acquire validates it against the
segment (size, format, pitch; counted in the segment's `frames_rejected`), and this module
adds the checks only the sidecar can make (a GPU frame without a usable GPU, a frame smaller
than the model accepts); each rejection is counted here and logged once per reason.

What it is not: a scheduler (it takes whatever frame the pool hands out) or a converter (the
model accepts RGBA8, BGRA8 and RGB8 of any size); the one exception is a cube-map frame, which
it hands to `panorama.CubemapConverter` (equirectangular frames pass through unchanged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from livefoley.protocol.errors import DeviceError, LiveFoleyError, ProtocolError

log = logging.getLogger(__name__)

MIN_FRAME_PX = 8
_CHANNELS = {1: 4, 2: 4, 3: 3}  # RGBA8, BGRA8, RGB8


@dataclass
class StagedFrame:
    """The frame a session's next step uses."""

    frame_index: int
    capture_ns: int
    pixel_format: int
    pixels: object  # numpy (H, W, C) uint8, or a torch CUDA tensor
    orientation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # listener yaw, pitch, roll (rad, LiveFoley's)


class FrameIntake:
    """Takes frames of one session out of its pool.

    Args:
        session: an attached `livefoley.protocol.Session`.
        gpu: a `GpuFrameImporter` when CUDA is usable, else None (GPU frames are rejected).
        cubemap: converts a cube-map frame (descriptor projection CUBEMAP) to an
            equirectangular one on the model's device (`panorama.CubemapConverter`).

    Thread-safety: one thread (the runtime loop). Real-time safe: no (copies a frame).
    """

    def __init__(self, session, *, gpu=None, cubemap=None) -> None:
        self.session = session
        self.gpu = gpu
        self.cubemap = cubemap  # a panorama.CubemapConverter; None: cube-map frames are rejected
        self.staged: StagedFrame | None = None
        self._staging: np.ndarray | None = None
        self.frames_taken = 0
        self.frames_rejected = 0
        self._reasons_logged: set[str] = set()

    def poll(self) -> StagedFrame | None:
        """Take the frame the pool hands out (newest in `latest`, oldest in `fifo`).

        Returns:
            The newly staged frame, or None when no new valid frame was there (the previous
            staged frame, if any, stays staged).
        """
        try:
            view = self.session.frames.acquire()
        except ProtocolError as exc:  # the pool rejected the descriptor and counted it
            self._reject("protocol", exc)
            return None
        if view is None:
            return None
        try:
            return self._stage(view)
        except (ProtocolError, DeviceError) as exc:
            self._reject(type(exc).__name__, exc)
            return None
        finally:
            view.release()

    def _stage(self, view) -> StagedFrame:
        d = view.descriptor
        fmt = int(d.pixel_format)
        width, height = int(d.width), int(d.height)
        if fmt not in _CHANNELS:
            raise ProtocolError(f"frame {d.frame_index}: expected pixel format 1, 2 or 3, found {fmt}")
        if width < MIN_FRAME_PX or height < MIN_FRAME_PX:
            raise ProtocolError(
                f"frame {d.frame_index}: expected at least {MIN_FRAME_PX}x{MIN_FRAME_PX} pixels, found {width}x{height}"
            )
        if int(d.location) == 1:  # GPU slot
            if self.gpu is None:
                raise DeviceError(f"frame {d.frame_index}: expected a host frame (this sidecar has no GPU), found a GPU frame")
            slot_index = int(d.slot_index)
            tensor = self.gpu.view(slot_index, self.session.frames.gpu_slot(slot_index), d)
            pixels = tensor.clone()  # on the same stream, after the wait: the slot can be reused
        else:
            src = view.pixels  # (H, W, C) uint8 view into the segment
            if src.shape != (height, width, _CHANNELS[fmt]):
                raise ProtocolError(
                    f"frame {d.frame_index}: expected pixels of shape {(height, width, _CHANNELS[fmt])}, found {src.shape}"
                )
            if self._staging is None or self._staging.shape != src.shape:
                self._staging = np.empty(src.shape, dtype=np.uint8)  # only when the size changes
            np.copyto(self._staging, src)
            pixels = self._staging
        self.frames_taken += 1
        if int(getattr(d, "projection", 0)) == 1:  # CUBEMAP: resampled to equirect on the device
            if self.cubemap is None:
                raise ProtocolError(f"frame {d.frame_index}: expected an image or equirectangular frame "
                                    "(this sidecar converts no cube maps), found a cube map")
            pixels = self.cubemap(pixels, int(d.frame_index))
        orientation = tuple(float(a) for a in d.orientation)
        self.staged = StagedFrame(int(d.frame_index), int(d.capture_ns), fmt, pixels, orientation)
        return self.staged

    def _reject(self, reason: str, exc: LiveFoleyError) -> None:
        self.frames_rejected += 1
        if reason not in self._reasons_logged:
            self._reasons_logged.add(reason)
            log.warning("frame rejected (%s), stream goes on: %s", reason, exc)
        else:
            log.debug("frame rejected: %s", exc)

    def clear(self) -> None:
        """Forget the staged frame (a new stream starts)."""
        self.staged = None
