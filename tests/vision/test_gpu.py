"""The CUDA path of the vision front-end (skipped with a reason where no CUDA device exists)."""

from __future__ import annotations

import pytest
import torch

from livefoley.models.vision import VISION_SR, VISION_TINY, FramePreprocessor, build_vision_frontend

pytestmark = pytest.mark.gpu


@pytest.mark.xfail(strict=True, reason=(
    "measured on an H200 (torch 2.11, 2026-12-04): CUDA's antialiased bicubic resize differs "
    "from the CPU uint8 path by up to 0.075 (4.3 grey levels) on noise frames, while the CPU "
    "float path is within 0.99 grey levels of it; open, see benchmarks/RESULTS.md"))
def test_cuda_preprocess_within_one_grey_level_of_cpu():
    frames = torch.randint(0, 256, (2, 480, 854, 4), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    cpu = FramePreprocessor(out_h_px=224, out_w_px=224, resize_filter="bicubic")
    gpu = FramePreprocessor(out_h_px=224, out_w_px=224, resize_filter="bicubic").cuda()
    a = cpu(frames, "BGRA8")
    b = gpu(frames.cuda(), "BGRA8")  # frames already on the device, as with CUDA IPC
    assert b.device.type == "cuda"
    assert (a - b.cpu()).abs().max() <= 1.0 / 255 / 0.224 + 1e-4


@pytest.mark.parametrize("cfg", [VISION_TINY, VISION_SR], ids=["tiny", "sr"])
def test_cuda_streaming_equals_offline(cfg):
    torch.manual_seed(0)
    fe = build_vision_frontend(cfg).cuda().eval()
    frames = torch.randint(0, 256, (2, 4, 480, 854, 4), dtype=torch.uint8, device="cuda")
    with torch.no_grad():
        offline = fe(frames, "RGBA8")
        state = fe.init_state(2)
        steps = []
        for t in range(4):
            tok, state = fe.step(frames[:, t], "RGBA8", state)
            steps.append(tok)
    # cuDNN may pick different (TF32) conv algorithms for batch 2 and batch 8.
    torch.testing.assert_close(torch.stack(steps, 1), offline, atol=2e-3, rtol=1e-3)
