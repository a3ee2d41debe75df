"""GPU frame intake: import a host's shared GPU buffers once, view frames as torch tensors.

What it is: the sidecar side of the GPU slots described in protocol.h (`lf_gpu_slot_t`):

- `LF_GPU_CUDA_IPC` (Linux): a `cudaIpcMemHandle_t` opened with `cudaIpcOpenMemHandle`, and a
  `cudaIpcEventHandle_t` opened with `cudaIpcOpenEventHandle`; before a frame is read the
  sidecar's stream waits on that event (`cudaStreamWaitEvent`), which the host records after
  writing the frame.
- `LF_GPU_D3D12_NT_HANDLE` / `LF_GPU_D3D11_NT_HANDLE` (Windows, where legacy IPC is not
  supported under WDDM; shared/reference/systems.md §1.1-1.3): the resource's shared NT
  handle imported with `cudaImportExternalMemory` (dedicated) and mapped as a linear buffer
  with `cudaExternalMemoryGetMappedBuffer`; the shared fence imported with
  `cudaImportExternalSemaphore` and waited for at the descriptor's `fence_value` with
  `cudaWaitExternalSemaphoresAsync`. The slot has one NT-handle field (the resource); the
  fence's NT handle travels in the first 8 bytes (little-endian) of `cuda_event_handle`,
  which NT kinds do not otherwise use. NT handles are per process: the host duplicates both
  into the sidecar's process (its pid is in the segment header) before registering.

Every handle is imported once and cached by slot index and handle bytes (never by device
address: a freed and re-allocated buffer can reuse an address with a new handle, UCX PR
#2738). A frame is viewed without a copy through `__cuda_array_interface__`; the view object
holds a reference to the import, so the imported memory outlives every tensor that views it,
and a replaced import is closed only after its last view is gone and the device is synced.

What it is not: the host side (engine_bindings/host/gpu.py exports slots) or any pixel
conversion (the model takes uint8 frames in any of the three formats).

Without CUDA (no driver, no device, no cuda-python) the constructor raises DeviceError with
the reason; nothing here crashes a CPU-only sidecar.
"""

from __future__ import annotations

import ctypes
import logging
import struct
from dataclasses import dataclass

from livefoley.protocol.errors import DeviceError, ProtocolError
from livefoley.protocol.errors import cuda_result as _check

log = logging.getLogger(__name__)

GPU_CUDA_IPC = 1
GPU_D3D12_NT_HANDLE = 2
GPU_D3D11_NT_HANDLE = 3
_BYTES_PER_PIXEL = {1: 4, 2: 4, 3: 3}  # RGBA8, BGRA8, RGB8


def cuda_unavailable_reason() -> str | None:
    """None when a CUDA device can be used from cuda-python and torch; else why not."""
    try:
        from cuda.bindings import runtime as rt
    except ImportError as exc:
        return f"cuda-python is not installed (pip install 'livefoley[cuda]'): {exc}"
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0:
        return f"no usable CUDA driver: cudaGetDeviceCount returned {err!r}"
    if count == 0:
        return "no CUDA device"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} has no CUDA support"
    return None


@dataclass
class _Import:
    """One imported slot: device pointer, sync object, and what must be released."""

    key: tuple
    kind: int
    ptr: int
    byte_size: int
    event: object = None  # cudaEvent_t (IPC)
    semaphore: object = None  # cudaExternalSemaphore_t (NT kinds)
    ext_memory: object = None  # cudaExternalMemory_t (NT kinds)
    closed: bool = False

    def close(self) -> None:
        """Release the import. Called when no view references it any more."""
        if self.closed:
            return
        self.closed = True
        from cuda.bindings import runtime as rt

        rt.cudaDeviceSynchronize()
        if self.kind == GPU_CUDA_IPC:
            rt.cudaIpcCloseMemHandle(self.ptr)
            if self.event is not None:
                rt.cudaEventDestroy(self.event)
        else:
            if self.semaphore is not None:
                rt.cudaDestroyExternalSemaphore(self.semaphore)
            if self.ext_memory is not None:
                rt.cudaDestroyExternalMemory(self.ext_memory)
        log.info("closed GPU import %s", self.key[:2])

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the driver releases everything anyway
            pass


class _FrameArray:
    """A strided uint8 (H, W, C) view of imported memory, for `torch.as_tensor`.

    Holding `_import` here is what keeps the import alive while a tensor views it: torch keeps
    a reference to the object whose `__cuda_array_interface__` it consumed.
    """

    def __init__(self, imp: _Import, *, height: int, width: int, channels: int, pitch: int) -> None:
        self._import = imp
        self.__cuda_array_interface__ = {
            "shape": (height, width, channels),
            "strides": (pitch, channels, 1),
            "typestr": "|u1",
            # Writable as far as torch knows: torch refuses read-only interfaces ("the read
            # only flag is not supported", seen on an H200, torch 2.11). Nothing here writes
            # to a frame; the producer owns it.
            "data": (imp.ptr, False),
            "version": 3,
            "stream": None,  # ordering is established by the explicit wait before the view
        }


class GpuFrameImporter:
    """Imports GPU slots once and hands out zero-copy torch views of their frames.

    Args:
        device_index: CUDA device the model runs on; slots from another device are refused.

    Raises:
        DeviceError: CUDA is not usable here (the message says why).

    Thread-safety: one thread (the runtime loop). Real-time safe: no.
    """

    def __init__(self, device_index: int = 0) -> None:
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise DeviceError(f"GPU frame intake: expected a CUDA device, found {reason}")
        import torch
        from cuda.bindings import runtime as rt

        self._rt = rt
        self._torch = torch
        self.device_index = device_index
        _check(rt.cudaSetDevice(device_index), f"cudaSetDevice({device_index})")
        props = _check(rt.cudaGetDeviceProperties(device_index), "cudaGetDeviceProperties")
        self.device_uuid = bytes(props.uuid.bytes)[:16]
        self._cache: dict[int, _Import] = {}
        self.imports = 0
        self.waits = 0

    def view(self, slot_index: int, slot, desc):
        """Wait for the frame in GPU slot `slot_index` and return it as a torch uint8 tensor.

        Args:
            slot_index: the slot the descriptor names.
            slot: that slot's registration (attributes as `lf_gpu_slot_t`: kind, byte_size,
                cuda_mem_handle, cuda_event_handle, nt_handle, fence_value, device_uuid).
            desc: the frame descriptor (width, height, row_pitch_bytes, pixel_format,
                fence_value).

        Returns:
            torch.Tensor (H, W, C) uint8 on the CUDA device, viewing the shared memory.

        Raises:
            ProtocolError: the descriptor does not fit the slot (size, pitch, format, kind).
            DeviceError: the device refuses the import or the slot is from another GPU.
        """
        bpp = _BYTES_PER_PIXEL.get(int(desc.pixel_format))
        if bpp is None:
            raise ProtocolError(f"GPU slot {slot_index}: expected pixel format 1, 2 or 3, found {desc.pixel_format}")
        need = int(desc.row_pitch_bytes) * int(desc.height)
        if int(desc.row_pitch_bytes) < int(desc.width) * bpp or need > int(slot.byte_size):
            raise ProtocolError(
                f"GPU slot {slot_index}: expected pitch >= {int(desc.width) * bpp} and pitch*height <= "
                f"{int(slot.byte_size)} bytes, found pitch {desc.row_pitch_bytes}, {need} bytes"
            )
        imp = self._import(slot_index, slot)
        stream = self._torch.cuda.current_stream(self.device_index).cuda_stream
        if imp.kind == GPU_CUDA_IPC:
            if imp.event is not None:
                _check(self._rt.cudaStreamWaitEvent(stream, imp.event, 0), "cudaStreamWaitEvent")
        else:
            params = self._rt.cudaExternalSemaphoreWaitParams()
            params.params.fence.value = int(desc.fence_value)
            _check(
                self._rt.cudaWaitExternalSemaphoresAsync([imp.semaphore], [params], 1, stream),
                "cudaWaitExternalSemaphoresAsync",
            )
        self.waits += 1
        arr = _FrameArray(imp, height=int(desc.height), width=int(desc.width), channels=bpp,
                          pitch=int(desc.row_pitch_bytes))
        return self._torch.as_tensor(arr, device=f"cuda:{self.device_index}")

    def _import(self, slot_index: int, slot) -> _Import:
        kind = int(slot.kind)
        raw = bytes(slot.cuda_mem_handle) if kind == GPU_CUDA_IPC else struct.pack("<Q", int(slot.nt_handle))
        key = (slot_index, kind, raw, bytes(slot.cuda_event_handle))
        cached = self._cache.get(slot_index)
        if cached is not None and cached.key == key:
            return cached
        uuid = bytes(slot.device_uuid)[:16]
        if any(uuid) and uuid != self.device_uuid:
            raise DeviceError(
                f"GPU slot {slot_index}: expected device uuid {self.device_uuid.hex()}, found {uuid.hex()}"
            )
        if kind == GPU_CUDA_IPC:
            imp = self._import_ipc(key, slot)
        elif kind in (GPU_D3D12_NT_HANDLE, GPU_D3D11_NT_HANDLE):
            imp = self._import_nt(key, slot, kind)
        else:
            raise ProtocolError(f"GPU slot {slot_index}: expected kind 1 (CUDA IPC), 2 or 3 (NT handle), found {kind}")
        if cached is not None:
            log.info("GPU slot %d re-registered: dropping the old import once its views are gone", slot_index)
        self._cache[slot_index] = imp  # the old import closes when its last view dies
        self.imports += 1
        return imp

    def _import_ipc(self, key: tuple, slot) -> _Import:
        rt = self._rt
        handle = rt.cudaIpcMemHandle_t()
        ctypes.memmove(handle.getPtr(), bytes(slot.cuda_mem_handle), 64)
        ptr = _check(rt.cudaIpcOpenMemHandle(handle, rt.cudaIpcMemLazyEnablePeerAccess), "cudaIpcOpenMemHandle")
        event = None
        if any(bytes(slot.cuda_event_handle)):
            ev_handle = rt.cudaIpcEventHandle_t()
            ctypes.memmove(ev_handle.getPtr(), bytes(slot.cuda_event_handle), 64)
            event = _check(rt.cudaIpcOpenEventHandle(ev_handle), "cudaIpcOpenEventHandle")
        log.info("imported CUDA IPC slot %d (%d bytes)", key[0], int(slot.byte_size))
        return _Import(key=key, kind=GPU_CUDA_IPC, ptr=int(ptr), byte_size=int(slot.byte_size), event=event)

    def _import_nt(self, key: tuple, slot, kind: int) -> _Import:
        rt = self._rt
        desc = rt.cudaExternalMemoryHandleDesc()
        desc.type = (rt.cudaExternalMemoryHandleType.cudaExternalMemoryHandleTypeD3D12Resource
                     if kind == GPU_D3D12_NT_HANDLE else
                     rt.cudaExternalMemoryHandleType.cudaExternalMemoryHandleTypeD3D11Resource)
        desc.handle.win32.handle = int(slot.nt_handle)
        desc.size = int(slot.byte_size)
        desc.flags = rt.cudaExternalMemoryDedicated
        ext = _check(rt.cudaImportExternalMemory(desc), "cudaImportExternalMemory")
        buf = rt.cudaExternalMemoryBufferDesc()
        buf.offset = 0
        buf.size = int(slot.byte_size)
        buf.flags = 0
        ptr = _check(rt.cudaExternalMemoryGetMappedBuffer(ext, buf), "cudaExternalMemoryGetMappedBuffer")
        fence_handle = struct.unpack("<Q", bytes(slot.cuda_event_handle)[:8])[0]
        sem_desc = rt.cudaExternalSemaphoreHandleDesc()
        sem_desc.type = (rt.cudaExternalSemaphoreHandleType.cudaExternalSemaphoreHandleTypeD3D12Fence
                         if kind == GPU_D3D12_NT_HANDLE else
                         rt.cudaExternalSemaphoreHandleType.cudaExternalSemaphoreHandleTypeD3D11Fence)
        sem_desc.handle.win32.handle = fence_handle
        sem_desc.flags = 0
        sem = _check(rt.cudaImportExternalSemaphore(sem_desc), "cudaImportExternalSemaphore")
        log.info("imported NT-handle slot %d (%d bytes)", key[0], int(slot.byte_size))
        return _Import(key=key, kind=kind, ptr=int(ptr), byte_size=int(slot.byte_size), semaphore=sem, ext_memory=ext)

    def close(self) -> None:
        """Drop the cache; each import closes when its last view is gone."""
        self._cache.clear()
