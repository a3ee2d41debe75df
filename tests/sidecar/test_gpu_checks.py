"""GPU intake checks that run without a GPU: error conversion, descriptor validation before
any CUDA call, and the zero-copy view's array interface (what torch will read)."""

import gc
import weakref

import pytest

from livefoley.protocol import FrameDescriptor, FrameLocation, GpuSlotInfo, GpuSlotKind, PixelFormat
from livefoley.protocol.errors import DeviceError, ProtocolError
from livefoley.sidecar.runtime import gpu


def desc(**kw):
    base = dict(frame_index=3, capture_ns=1, width=64, height=48, row_pitch_bytes=256,
                pixel_format=PixelFormat.RGBA8, location=FrameLocation.GPU, slot_index=0,
                orientation=(0.0, 0.0, 0.0), fence_value=0)
    base.update(kw)
    return FrameDescriptor(**base)


def test_check_converts_cuda_errors_naming_expected_and_found():
    from cuda.bindings import runtime as rt

    with pytest.raises(DeviceError, match="cudaIpcOpenMemHandle: expected cudaSuccess, found .*cudaErrorInvalidValue"):
        gpu._check((rt.cudaError_t.cudaErrorInvalidValue, None), "cudaIpcOpenMemHandle")
    assert gpu._check((rt.cudaError_t.cudaSuccess, 42), "x") == 42


@pytest.mark.skipif(gpu.cuda_unavailable_reason() is None, reason="CUDA is present here")
def test_cuda_unavailable_reason_says_why():
    reason = gpu.cuda_unavailable_reason()
    assert reason and ("driver" in reason or "device" in reason or "CUDA" in reason)


@pytest.mark.parametrize("bad,needle", [
    (dict(row_pitch_bytes=100), "expected pitch >= 256 and pitch*height <= 12288 bytes, found pitch 100"),
    (dict(height=96), "found pitch 256, 24576 bytes"),
])
def test_view_refuses_a_descriptor_that_does_not_fit_the_slot(bad, needle):
    importer = object.__new__(gpu.GpuFrameImporter)  # validation runs before any CUDA call
    slot = GpuSlotInfo(kind=GpuSlotKind.CUDA_IPC, byte_size=64 * 48 * 4)
    with pytest.raises(ProtocolError, match=needle.replace("*", r"\*")):
        importer.view(0, slot, desc(**bad))


def test_frame_array_interface_is_strided_uint8_and_keeps_the_import_alive():
    imp = gpu._Import(key=(0,), kind=gpu.GPU_CUDA_IPC, ptr=0x7000_0000, byte_size=1 << 16, closed=True)
    arr = gpu._FrameArray(imp, height=48, width=64, channels=4, pitch=320)
    cai = arr.__cuda_array_interface__
    assert cai["shape"] == (48, 64, 4) and cai["strides"] == (320, 4, 1)
    assert cai["typestr"] == "|u1" and cai["data"] == (0x7000_0000, False) and cai["version"] == 3
    ref = weakref.ref(imp)
    del imp
    gc.collect()
    assert ref() is not None  # the view holds the import
    del arr
    gc.collect()
    assert ref() is None
