"""Host side of the GPU slots (Linux, CUDA IPC): publish torch CUDA tensors without a host copy.

What it is: `CudaSlotExporter`, which allocates one device buffer per frame slot with
`cudaMalloc` (legacy IPC needs the base pointer of a cudaMalloc allocation, not a
sub-allocation of torch's caching allocator), exports it once with `cudaIpcGetMemHandle`,
creates one interprocess event per slot (`cudaEventInterprocess | cudaEventDisableTiming`)
exported with `cudaIpcGetEventHandle`, and registers both in the segment's GPU slot table.
Publishing a frame is a device-to-device copy into the writable slot on torch's current
stream, an event record on that stream, and a descriptor commit; the sidecar waits on the
event before it reads (sidecar/runtime/gpu.py).

What it is not: the Windows path. A D3D12/D3D11 engine shares its resources by NT handle and
registers `GpuSlotKind.D3D12_NT_HANDLE` slots from native code (engine_bindings/c); a Python
host on Windows publishes host-memory frames.

Buffers outlive the session's use of them: `close()` synchronises the device before freeing,
and the sidecar closes its imports when it exits (freeing before the importer closes is
undefined behaviour, shared/reference/systems.md §1.1).
"""

from __future__ import annotations

import ctypes
import logging

from livefoley.protocol.errors import DeviceError, ProtocolError
from livefoley.protocol.errors import cuda_result as _check

log = logging.getLogger(__name__)


class CudaSlotExporter:
    """Registers CUDA IPC slots for a session and publishes tensors into them.

    Args:
        session: the host's `livefoley.protocol.Session`.
        device_index: the CUDA device the tensors live on.
        slot_bytes: bytes per slot (default: the session's max frame bytes).

    Raises:
        DeviceError: cuda-python or a CUDA device is missing (message says which).

    Thread-safety: one thread (the producer). Real-time safe: no.
    """

    def __init__(self, session, *, device_index: int = 0, slot_bytes: int | None = None) -> None:
        try:
            import torch
            from cuda.bindings import runtime as rt
        except ImportError as exc:
            raise DeviceError(f"GPU frames: expected cuda-python and torch (pip install 'livefoley[cuda]'), found {exc}") from exc
        err, count = rt.cudaGetDeviceCount()
        if int(err) != 0 or count == 0 or not torch.cuda.is_available():
            raise DeviceError(f"GPU frames: expected a CUDA device, found cudaGetDeviceCount -> {err!r}, {count}")
        self._rt, self._torch = rt, torch
        self.session = session
        self.device_index = device_index
        _check(rt.cudaSetDevice(device_index), f"cudaSetDevice({device_index})")
        props = _check(rt.cudaGetDeviceProperties(device_index), "cudaGetDeviceProperties")
        uuid = bytes(props.uuid.bytes)[:16]
        pool = session.frames
        self.slot_bytes = int(slot_bytes or pool.max_frame_bytes or 640 * 480 * 4)
        self._ptrs, self._events = [], []
        from livefoley.protocol import GpuSlotInfo, GpuSlotKind

        flags = rt.cudaEventInterprocess | rt.cudaEventDisableTiming
        for slot in range(pool.slot_count):
            ptr = _check(rt.cudaMalloc(self.slot_bytes), "cudaMalloc")
            self._ptrs.append(int(ptr))
            mem = _check(rt.cudaIpcGetMemHandle(ptr), "cudaIpcGetMemHandle")
            event = _check(rt.cudaEventCreateWithFlags(flags), "cudaEventCreateWithFlags")
            self._events.append(event)
            ev = _check(rt.cudaIpcGetEventHandle(event), "cudaIpcGetEventHandle")
            pool.register_gpu_slot(slot, GpuSlotInfo(
                kind=GpuSlotKind.CUDA_IPC, byte_size=self.slot_bytes,
                cuda_mem_handle=ctypes.string_at(mem.getPtr(), 64),
                cuda_event_handle=ctypes.string_at(ev.getPtr(), 64), device_uuid=uuid))
        log.info("registered %d CUDA IPC slots of %d bytes", pool.slot_count, self.slot_bytes)

    def publish(self, tensor, *, frame_index: int, capture_ns: int, pixel_format, orientation=(0.0, 0.0, 0.0),
                timeout_s: float = 0.0) -> bool:
        """Copy a uint8 (H, W, C) CUDA tensor into the writable slot and publish it."""
        torch = self._torch
        if tensor.dtype != torch.uint8 or tensor.ndim != 3:
            raise ProtocolError(f"GPU frame: expected uint8 (H, W, C), found {tensor.dtype} {tuple(tensor.shape)}")
        h, w, c = (int(v) for v in tensor.shape)
        nbytes = h * w * c
        if nbytes > self.slot_bytes:
            raise ProtocolError(f"GPU frame: expected at most {self.slot_bytes} bytes, found {nbytes} ({h}x{w}x{c})")
        pool = self.session.frames
        slot = pool.writable_slot(timeout_s)
        if slot is None:
            return False
        src = tensor.contiguous()
        stream = torch.cuda.current_stream(tensor.device).cuda_stream
        rt = self._rt
        _check(rt.cudaMemcpyAsync(self._ptrs[slot], src.data_ptr(), nbytes,
                                  rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync")
        _check(rt.cudaEventRecord(self._events[slot], stream), "cudaEventRecord")
        return pool.publish_gpu(slot, frame_index=frame_index, capture_ns=capture_ns, width=w, height=h,
                                row_pitch_bytes=w * c, pixel_format=pixel_format, orientation=orientation)

    def close(self) -> None:
        rt = self._rt
        rt.cudaDeviceSynchronize()
        for event in self._events:
            rt.cudaEventDestroy(event)
        for ptr in self._ptrs:
            rt.cudaFree(ptr)
        self._events, self._ptrs = [], []
