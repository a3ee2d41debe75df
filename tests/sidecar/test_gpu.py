"""CUDA IPC frame path: a producer process publishes torch CUDA tensors (Host, CUDA IPC slots);
this process imports them once, waits on the producer's event, and views them without a copy.
Needs a CUDA device (marked `gpu`; skipped with a reason elsewhere)."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.gpu

PRODUCER = textwrap.dedent("""
    import sys, time, torch
    from livefoley.engine_bindings.host import Host
    name = sys.argv[1]
    with Host(name, max_width_px=64, max_height_px=48) as h:
        print("READY", flush=True)
        for k in range(30):
            frame = torch.full((48, 64, 4), k, dtype=torch.uint8, device="cuda")
            frame[..., 3] = 255
            assert h.publish(frame, frame_index=k)
            torch.cuda.synchronize()
            time.sleep(0.03)
        sys.stdin.readline()  # keep the buffers alive until the consumer is done
""")


def test_cuda_ipc_frames_from_a_producer_process(session_name):
    import torch

    from livefoley.protocol import attach_session
    from livefoley.sidecar.runtime.gpu import GpuFrameImporter
    from livefoley.sidecar.runtime.intake import FrameIntake

    proc = subprocess.Popen([sys.executable, "-c", PRODUCER, session_name], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        side = attach_session(session_name, expect_sample_rate_hz=48000, expect_channels=2)
        importer = GpuFrameImporter(0)
        intake = FrameIntake(side, gpu=importer)
        seen = []
        import time

        deadline = time.monotonic() + 20
        while len(seen) < 10 and time.monotonic() < deadline:
            staged = intake.poll()
            if staged is None:
                time.sleep(0.005)
                continue
            px = staged.pixels
            assert px.is_cuda and px.shape == (48, 64, 4)
            k = staged.frame_index
            assert torch.equal(px[..., 0], torch.full((48, 64), k, dtype=torch.uint8, device=px.device))
            seen.append(k)
        assert len(seen) >= 10 and seen == sorted(seen)
        assert importer.imports <= 3, "each slot must be imported once and cached"
        assert intake.frames_rejected == 0
        importer.close()
        side.close()
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
