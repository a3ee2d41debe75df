"""Frame slots over the session segment, from Python: publish (host) and acquire (sidecar).

What it is: `FramePool` with the two modes of the C core (`latest`: triple-buffered
mailbox, the producer never waits; `fifo`: bounded queue, nothing dropped), zero-copy
`FrameView`s of host slots, descriptor validation that names the bad field, and the GPU
slot table (CUDA IPC / D3D12 / D3D11 handles) that the sidecar's GPU intake reads.
What it is not: GPU code. Opening a CUDA IPC handle or an NT handle is the sidecar's job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .errors import DeviceError, ProtocolError
from .native import check, ffi, lib, new_err
from .params import FrameLocation, FrameMode, GpuSlotKind, PixelFormat, Projection, parse_pixel_format

_WAIT_STEP_S = 0.0002
# Enum construction by value costs about a microsecond; acquire runs once per frame.
_FORMAT_BY_VALUE = {int(f): f for f in PixelFormat}
_LOCATION_BY_VALUE = {int(loc): loc for loc in FrameLocation}


@dataclass(frozen=True)
class FrameDescriptor:
    """A frame's description as the consumer received it (a validated copy)."""

    frame_index: int
    capture_ns: int  # CLOCK_MONOTONIC of the producer
    width: int
    height: int
    row_pitch_bytes: int
    pixel_format: PixelFormat
    location: FrameLocation
    slot_index: int
    orientation: tuple[float, float, float]  # yaw, pitch, roll in radians (LiveFoley's convention)
    fence_value: int = 0
    projection: Projection = Projection.IMAGE

    @property
    def bytes_per_pixel(self) -> int:
        return self.pixel_format.bytes_per_pixel


@dataclass(frozen=True)
class GpuSlotInfo:
    """One GPU slot, registered once by the host; the sidecar imports it once and caches.

    Attributes:
        kind: how the allocation is shared.
        byte_size: bytes of the shared allocation.
        cuda_mem_handle: 64-byte cudaIpcMemHandle_t (CUDA_IPC).
        cuda_event_handle: 64-byte cudaIpcEventHandle_t (CUDA_IPC), or zeros.
        nt_handle: shared NT handle value (D3D12/D3D11).
        fence_value: last fence value signalled for this slot.
        device_uuid: 16-byte GPU UUID; the sidecar refuses a slot from another GPU.
        device_luid: 8-byte adapter LUID (Windows).
    """

    kind: GpuSlotKind
    byte_size: int
    cuda_mem_handle: bytes = bytes(64)
    cuda_event_handle: bytes = bytes(64)
    nt_handle: int = 0
    fence_value: int = 0
    device_uuid: bytes = bytes(16)
    device_luid: bytes = bytes(8)

    def __post_init__(self) -> None:
        for name, size in (("cuda_mem_handle", 64), ("cuda_event_handle", 64),
                           ("device_uuid", 16), ("device_luid", 8)):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != size:
                found = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
                raise ProtocolError(f"GpuSlotInfo.{name}: expected {size} bytes, found {found}")
        object.__setattr__(self, "kind", GpuSlotKind(self.kind))


class FrameView:
    """An acquired frame. `.pixels` is a read-only zero-copy view of the host slot.

    Release it (or leave the `with` block) before acquiring the next frame. After release
    the producer may overwrite the slot, so copy what you keep.
    """

    def __init__(self, pool: FramePool, descriptor: FrameDescriptor, pixels) -> None:
        self.descriptor = descriptor
        self.pixels = pixels  # None for GPU frames: use pool.gpu_slot(descriptor.slot_index)
        self._pool = pool
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._pool._release(self)

    def __enter__(self) -> FrameView:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class FramePool:
    """The segment's frame slots, in the mode fixed at creation.

    Thread-safety: one producer thread (publish*, register_gpu_slot), one consumer thread
    (acquire, release).
    Real-time safe: no (Python); the host's C path is `lf_frame_*`.
    """

    def __init__(self, mapping, header: dict, *, where: str) -> None:
        self._mapping = mapping
        self._base = mapping.base
        self._where = where
        self.mode = FrameMode(header["frame_mode"])
        self.slot_count = int(header["slot_count"])
        self.max_frame_bytes = int(header["max_frame_bytes"])
        self._pixels_offset = int(header["pixels_offset"])
        self._stride = int(header["pixel_slot_stride_bytes"])
        self._err = new_err()
        self._desc_buf = ffi.new("lf_frame_desc_t *")  # producer side
        self._begin_slot = ffi.new("uint32_t *")  # producer side
        self._acq_slot = ffi.new("uint32_t *")  # consumer side
        self._acq_desc = ffi.new("lf_frame_desc_t *")  # consumer side
        self._acq_err = new_err()  # consumer side (self._err is the producer's)
        self._held: FrameView | None = None
        self._open = True

    def _detach(self) -> None:
        """Called by Session.close: later calls raise instead of touching unmapped memory."""
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise ProtocolError(f"{self._where}: expected an open session, found it closed")

    # ---- producer ---------------------------------------------------------------------
    def writable_slot(self, timeout_s: float = 0.0) -> int | None:
        """The slot the producer fills next, waiting up to `timeout_s` (fifo) for one."""
        self._check_open()
        slot = self._begin_slot
        deadline = time.monotonic() + timeout_s
        while True:
            code = lib.lf_frame_begin(self._base, slot)
            if code != lib.LF_E_FULL:
                check(code, f"{self._where}: frame slot")
                return int(slot[0])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(_WAIT_STEP_S, remaining))

    def _desc(self, *, frame_index, capture_ns, width, height, row_pitch_bytes, pixel_format,
              location, orientation, fence_value, projection=Projection.IMAGE):
        """Fill the pool's one descriptor buffer (producer side only, so one suffices)."""
        if len(orientation) != 3:
            raise ProtocolError(
                f"{self._where}: orientation: expected (yaw, pitch, roll), found {orientation!r}"
            )
        d = self._desc_buf
        d.frame_index = frame_index
        d.capture_ns = capture_ns
        d.width = width
        d.height = height
        d.row_pitch_bytes = row_pitch_bytes
        d.pixel_format = pixel_format
        d.location = location
        d.yaw_rad, d.pitch_rad, d.roll_rad = orientation
        d.fence_value = fence_value
        d.projection = int(projection)
        return d

    def publish(self, pixels: np.ndarray, *, frame_index: int, capture_ns: int,
                pixel_format: PixelFormat | str, orientation=(0.0, 0.0, 0.0),
                timeout_s: float = 0.0, projection: Projection | int = Projection.IMAGE) -> bool:
        """Copy `pixels` into the writable host slot and publish it.

        Args:
            pixels: uint8 array (H, W, C), C = 4 for RGBA8/BGRA8, 3 for RGB8 (a
                non-contiguous array is copied once first).
            frame_index: producer's frame counter.
            capture_ns: CLOCK_MONOTONIC time the frame was rendered.
            pixel_format: PixelFormat (or its name).
            orientation: listener (yaw, pitch, roll) in radians, LiveFoley's convention
                (protocol/README.md "Orientation").
            timeout_s: fifo only: how long to wait for a free slot.
            projection: IMAGE (a camera view or an equirectangular panorama) or CUBEMAP
                (6 square faces stacked vertically, S x 6S; protocol.h `lf_projection_t`).

        Returns:
            True when published; False when the fifo stayed full (counted as refused; no
            frame is lost, the caller still holds it).

        Raises:
            ProtocolError: pixels of the wrong dtype/shape, or a descriptor field out of
                range (the message names the field, expected and found values).

        Thread-safety: producer side only.
        """
        self._check_open()
        fmt = parse_pixel_format(pixel_format)
        bpp = fmt.bytes_per_pixel
        if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 \
                or pixels.shape[2] != bpp:
            found = (f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray)
                     else type(pixels).__name__)
            raise ProtocolError(
                f"{self._where}: pixels: expected uint8 (H, W, {bpp}) for {fmt.name}, found {found}"
            )
        if not pixels.flags.c_contiguous:
            pixels = np.ascontiguousarray(pixels)
        height, width = pixels.shape[0], pixels.shape[1]
        desc = self._desc(frame_index=frame_index, capture_ns=capture_ns, width=width,
                          height=height, row_pitch_bytes=width * bpp, pixel_format=fmt,
                          location=FrameLocation.HOST, orientation=orientation, fence_value=0,
                          projection=projection)
        if self.mode is FrameMode.FIFO and self.writable_slot(timeout_s) is None:
            lib.lf_frame_note_refused(self._base)
            return False
        code = lib.lf_frame_publish_host(self._base, desc, ffi.from_buffer(pixels), width * bpp,
                                         self._err, len(self._err))
        if code == lib.LF_E_FULL:
            return False
        check(code, self._where, self._err)
        return True

    def slot_buffer(self, slot_index: int) -> np.ndarray:
        """Writable uint8 view of host slot `slot_index` (max_frame_bytes), for producers
        that render straight into shared memory; publish it with `commit_host`."""
        self._check_open()
        self._check_slot(slot_index)
        if self.max_frame_bytes == 0:
            raise ProtocolError(f"{self._where}: slot_buffer: expected host slots, found max_frame_bytes 0")
        offset = self._pixels_offset + slot_index * self._stride
        # frombuffer holds a buffer export on the mmap, so the mapping cannot be unmapped
        # under this view (np.ndarray(buffer=...) would not).
        return np.frombuffer(self._mapping.mmap, np.uint8, self.max_frame_bytes, offset)

    def commit_host(self, slot_index: int, *, frame_index: int, capture_ns: int, width: int,
                    height: int, row_pitch_bytes: int, pixel_format: PixelFormat | str,
                    orientation=(0.0, 0.0, 0.0)) -> None:
        """Publish a host slot whose pixels the producer already wrote (`slot_buffer`).

        Raises:
            ProtocolError: slot is not the writable one, or a descriptor field is invalid.
        """
        self._check_open()
        desc = self._desc(frame_index=frame_index, capture_ns=capture_ns, width=width,
                          height=height, row_pitch_bytes=row_pitch_bytes,
                          pixel_format=parse_pixel_format(pixel_format),
                          location=FrameLocation.HOST, orientation=orientation, fence_value=0)
        check(lib.lf_frame_commit(self._base, slot_index, desc, self._err, len(self._err)),
              self._where, self._err)

    def publish_gpu(self, slot_index: int, *, frame_index: int, capture_ns: int, width: int,
                    height: int, row_pitch_bytes: int, pixel_format: PixelFormat | str,
                    orientation=(0.0, 0.0, 0.0), fence_value: int = 0,
                    timeout_s: float = 0.0) -> bool:
        """Publish a frame whose pixels the host wrote into registered GPU slot `slot_index`.

        `slot_index` must be `writable_slot()`: the slot the mailbox/queue gives the
        producer now (the consumer may be reading the others).

        Returns:
            True when published; False when the fifo stayed full (counted as refused).

        Raises:
            ProtocolError: another slot than the writable one, an unregistered or too small
                GPU slot, or a descriptor field out of range.

        Thread-safety: producer side only.
        """
        self._check_open()
        writable = self.writable_slot(timeout_s)
        if writable is None:
            lib.lf_frame_note_refused(self._base)
            return False
        if slot_index != writable:
            raise ProtocolError(
                f"{self._where}: publish_gpu slot: expected {writable} (the producer's writable "
                f"slot), found {slot_index}"
            )
        desc = self._desc(frame_index=frame_index, capture_ns=capture_ns, width=width,
                          height=height, row_pitch_bytes=row_pitch_bytes,
                          pixel_format=parse_pixel_format(pixel_format),
                          location=FrameLocation.GPU, orientation=orientation,
                          fence_value=fence_value)
        check(lib.lf_frame_commit(self._base, slot_index, desc, self._err, len(self._err)),
              self._where, self._err)
        return True

    def register_gpu_slot(self, slot_index: int, info: GpuSlotInfo) -> None:
        """Record GPU slot `slot_index` (host side, before publishing frames in it)."""
        self._check_open()
        self._check_slot(slot_index)
        slot = ffi.new("lf_gpu_slot_t *")
        slot.kind = int(info.kind)
        slot.byte_size = info.byte_size
        slot.nt_handle = info.nt_handle
        slot.fence_value = info.fence_value
        ffi.memmove(slot.cuda_mem_handle, bytes(info.cuda_mem_handle), 64)
        ffi.memmove(slot.cuda_event_handle, bytes(info.cuda_event_handle), 64)
        ffi.memmove(slot.device_uuid, bytes(info.device_uuid), 16)
        ffi.memmove(slot.device_luid, bytes(info.device_luid), 8)
        check(lib.lf_gpu_slot_register(self._base, slot_index, slot), f"{self._where}: gpu slot")

    def gpu_slot(self, slot_index: int, *, expect_device_uuid: bytes | None = None,
                 expect_device_luid: bytes | None = None) -> GpuSlotInfo:
        """Read GPU slot `slot_index` (after acquiring a frame located in it).

        Args:
            slot_index: which slot.
            expect_device_uuid: the consumer's GPU UUID (16 bytes); a slot registered on
                another GPU is refused.
            expect_device_luid: the consumer's adapter LUID (8 bytes, Windows), likewise.

        Raises:
            ProtocolError: slot index out of range or an unknown kind.
            DeviceError: the slot's device UUID/LUID differs from the expected one.
        """
        self._check_open()
        self._check_slot(slot_index)
        slot = ffi.new("lf_gpu_slot_t *")
        check(lib.lf_gpu_slot_get(self._base, slot_index, slot), f"{self._where}: gpu slot")
        kind = int(slot.kind)
        if kind not in GpuSlotKind._value2member_map_:
            raise ProtocolError(f"{self._where}: gpu slot {slot_index} kind: expected 0..3, found {kind}")
        info = GpuSlotInfo(
            kind=GpuSlotKind(kind), byte_size=int(slot.byte_size),
            cuda_mem_handle=bytes(ffi.buffer(slot.cuda_mem_handle)),
            cuda_event_handle=bytes(ffi.buffer(slot.cuda_event_handle)),
            nt_handle=int(slot.nt_handle), fence_value=int(slot.fence_value),
            device_uuid=bytes(ffi.buffer(slot.device_uuid)),
            device_luid=bytes(ffi.buffer(slot.device_luid)),
        )
        for field, expected in (("device_uuid", expect_device_uuid),
                                ("device_luid", expect_device_luid)):
            found = getattr(info, field)
            if expected is not None and bytes(expected) != found:
                raise DeviceError(
                    f"{self._where}: gpu slot {slot_index} {field}: expected "
                    f"{bytes(expected).hex()}, found {found.hex()} (frames from another GPU)"
                )
        return info

    # ---- consumer ---------------------------------------------------------------------
    def acquire(self) -> FrameView | None:
        """Take a frame: latest: the newest complete one not yet taken; fifo: the oldest.

        Returns:
            A FrameView, or None when there is no new frame.

        Raises:
            ProtocolError: a frame is still held (release it first), or the producer
                published an invalid descriptor (counted in frames_rejected and released;
                the message names the field, expected and found).

        Thread-safety: consumer side only.
        """
        self._check_open()
        if self._held is not None:
            raise ProtocolError(
                f"{self._where}: acquire: expected the held frame (slot "
                f"{self._held.descriptor.slot_index}) released first, found it still held"
            )
        slot, desc = self._acq_slot, self._acq_desc
        code = lib.lf_frame_acquire(self._base, slot, desc, self._acq_err, len(self._acq_err))
        if code == lib.LF_E_EMPTY:
            return None
        check(code, self._where, self._acq_err)
        d = FrameDescriptor(
            frame_index=int(desc.frame_index), capture_ns=int(desc.capture_ns),
            width=int(desc.width), height=int(desc.height),
            row_pitch_bytes=int(desc.row_pitch_bytes),
            pixel_format=_FORMAT_BY_VALUE[desc.pixel_format],
            location=_LOCATION_BY_VALUE[desc.location],
            slot_index=int(slot[0]),
            orientation=(float(desc.yaw_rad), float(desc.pitch_rad), float(desc.roll_rad)),
            fence_value=int(desc.fence_value),
            projection=Projection(int(desc.projection)),  # validated 0 or 1 by lf_frame_acquire
        )
        pixels = None
        if d.location is FrameLocation.HOST:
            bpp = d.bytes_per_pixel
            nbytes = d.row_pitch_bytes * (d.height - 1) + d.width * bpp
            flat = np.frombuffer(self._mapping.mmap, np.uint8, nbytes,
                                 self._pixels_offset + d.slot_index * self._stride)
            if d.row_pitch_bytes == d.width * bpp:
                pixels = flat.reshape(d.height, d.width, bpp)
            else:
                pixels = np.ndarray((d.height, d.width, bpp), np.uint8, flat, 0,
                                    (d.row_pitch_bytes, bpp, 1))
            pixels.flags.writeable = False
        view = FrameView(self, d, pixels)
        self._held = view
        return view

    def _release(self, view: FrameView) -> None:
        if self._held is view:
            self._held = None
        if not self._open:
            return  # the session is gone; nothing left to hand back
        check(lib.lf_frame_release(self._base, view.descriptor.slot_index),
              f"{self._where}: release slot {view.descriptor.slot_index}")

    def _check_slot(self, slot_index: int) -> None:
        if not 0 <= slot_index < self.slot_count:
            raise ProtocolError(
                f"{self._where}: slot_index: expected 0..{self.slot_count - 1}, found {slot_index}"
            )
