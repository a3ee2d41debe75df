"""`cuda_result` unwraps cuda-python results the same way for the host exporter and the sidecar importer."""

import enum

import pytest

from livefoley.protocol.errors import DeviceError, cuda_result


class FakeError(enum.IntEnum):  # cuda.bindings returns IntEnum error codes first
    cudaSuccess = 0
    cudaErrorInvalidValue = 1


def test_success_unwraps_nothing_one_value_or_a_tuple():
    assert cuda_result((FakeError.cudaSuccess,), "cudaFree") is None
    assert cuda_result(FakeError.cudaSuccess, "cudaFree") is None
    assert cuda_result((FakeError.cudaSuccess, 42), "cudaMalloc") == 42
    assert cuda_result((FakeError.cudaSuccess, 1, "b"), "cudaIpcOpenMemHandle") == (1, "b")


def test_failure_names_the_call_and_the_code():
    with pytest.raises(DeviceError, match=r"cudaIpcOpenEventHandle: expected cudaSuccess, found "
                                          r".*cudaErrorInvalidValue"):
        cuda_result((FakeError.cudaErrorInvalidValue, None), "cudaIpcOpenEventHandle")
