"""lf_publish_frame_cuda on a real CUDA device (marked gpu: skipped where none is present).

A producer publishes three frames from a pitched device buffer on its own stream; a second
process opens the slot's CUDA IPC memory and event handles exactly as the sidecar does,
waits on the event, and checks every byte. The same logic without a GPU (against a driver
test double) runs everywhere in test_c_api.py::test_cuda_publisher_under_asan_ubsan.
"""

from __future__ import annotations

import pytest

from tests.engine_bindings import cbuild
from tests.engine_bindings.test_c_api import run_program


@pytest.mark.gpu
def test_cuda_ipc_publish_to_another_process(lf_build):
    build = lf_build("plain")
    consumer = build.program("gpu_consumer", [cbuild.TEST_SRC / "gpu_consumer.c"])
    exe = build.program("test_cuda_gpu", [cbuild.TEST_SRC / "test_cuda_gpu.c"],
                        {"LF_GPU_CONSUMER": str(consumer)})
    run_program(exe, timeout_s=120)
