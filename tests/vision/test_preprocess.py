"""Frame preprocessing: channel order, any size and aspect, normalisation, bad inputs by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from livefoley.models.vision import IMAGENET_MEAN, IMAGENET_STD, FramePreprocessor
from livefoley.protocol.errors import ProtocolError

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _rgb(h: int, w: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, h, w, 3), generator=gen, dtype=torch.uint8)


def _as(rgb: torch.Tensor, fmt: str) -> torch.Tensor:
    alpha = torch.full_like(rgb[..., :1], 255)
    if fmt == "RGBA8":
        return torch.cat([rgb, alpha], -1)
    if fmt == "BGRA8":
        return torch.cat([rgb.flip(-1), alpha], -1)
    return rgb.clone()


@pytest.mark.parametrize("filt", ["bilinear", "bicubic"])
@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
@pytest.mark.parametrize("size", [(480, 640), (720, 1280), (300, 97), (96, 96), (7, 5)])
def test_rgba_bgra_rgb_give_the_same_tensor(mode, size, filt):
    pre = FramePreprocessor(out_h_px=96, out_w_px=96, aspect_mode=mode, resize_filter=filt)
    rgb = _rgb(*size)
    outs = {fmt: pre(_as(rgb, fmt), fmt) for fmt in ("RGBA8", "BGRA8", "RGB8")}
    assert outs["RGB8"].shape == (2, 3, 96, 96) and outs["RGB8"].dtype == torch.float32
    assert torch.equal(outs["RGBA8"], outs["RGB8"])
    assert torch.equal(outs["BGRA8"], outs["RGB8"])


@pytest.mark.parametrize("size", [(1, 1), (2, 1000), (1000, 2), (481, 853), (1440, 2560)])
@pytest.mark.parametrize("out", [(224, 224), (96, 192)])
def test_any_size_and_aspect(size, out):
    for mode in ("crop", "pad", "stretch"):
        pre = FramePreprocessor(out_h_px=out[0], out_w_px=out[1], aspect_mode=mode)
        y = pre(_rgb(*size, batch=1), "RGB8")
        assert y.shape == (1, 3, *out)
        assert torch.isfinite(y).all()
        assert y.min() >= ((0 - MEAN) / STD).min() - 1e-5
        assert y.max() <= ((1 - MEAN) / STD).max() + 1e-5


def test_normalisation_and_channel_order_of_a_constant_colour():
    pre = FramePreprocessor(out_h_px=28, out_w_px=28)
    bgra = torch.zeros(1, 50, 70, 4, dtype=torch.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 200, 255, 0  # B, G, R, A
    y = pre(bgra, "BGRA8")
    want = (torch.tensor([255.0, 200.0, 10.0]).view(1, 3, 1, 1) / 255 - MEAN) / STD
    torch.testing.assert_close(y, want.expand(1, 3, 28, 28), atol=1e-6, rtol=0)


def test_crop_keeps_the_centre_and_drops_the_sides():
    rgb = torch.zeros(1, 100, 300, 3, dtype=torch.uint8)
    rgb[:, :, :100, 2] = 255  # blue left third
    rgb[:, :, 100:200, 0] = 255  # red centre
    rgb[:, :, 200:, 2] = 255  # blue right third
    y = FramePreprocessor(out_h_px=32, out_w_px=32, aspect_mode="crop")(rgb, "RGB8")
    red = (torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1) - MEAN) / STD
    torch.testing.assert_close(y, red.expand_as(y), atol=1e-6, rtol=0)


def test_pad_letterboxes_with_the_mean_colour():
    white = torch.full((1, 100, 300, 3), 255, dtype=torch.uint8)
    y = FramePreprocessor(out_h_px=96, out_w_px=96, aspect_mode="pad")(white, "RGB8")
    content = round(100 * 96 / 300)  # 32 rows
    top = (96 - content) // 2
    assert torch.equal(y[:, :, :top], torch.zeros_like(y[:, :, :top]))
    assert torch.equal(y[:, :, top + content:], torch.zeros_like(y[:, :, top + content:]))
    want = ((1 - MEAN) / STD).expand(1, 3, content, 96)
    torch.testing.assert_close(y[:, :, top:top + content], want, atol=1e-6, rtol=0)


def test_stretch_keeps_left_and_right():
    rgb = torch.zeros(1, 60, 200, 3, dtype=torch.uint8)
    rgb[:, :, 100:, 1] = 255  # right half green
    y = FramePreprocessor(out_h_px=20, out_w_px=20, aspect_mode="stretch")(rgb, "RGB8")
    g = (y[0, 1] * STD[0, 1] + MEAN[0, 1])  # green channel back in [0, 1]
    assert g[:, :9].max() < 1e-5 and g[:, 11:].min() > 1 - 1e-5


@pytest.mark.parametrize("filt", ["bilinear", "bicubic"])
def test_cpu_uint8_resize_within_one_grey_level_of_float(filt):
    pre = FramePreprocessor(out_h_px=96, out_w_px=96, aspect_mode="stretch", resize_filter=filt)
    rgb = _rgb(480, 640, batch=1, seed=3)
    y = pre(rgb, "RGB8")
    ref = F.interpolate(rgb.permute(0, 3, 1, 2).float(), size=(96, 96), mode=filt,
                        antialias=True, align_corners=False).clamp(0, 255)
    ref = (ref / 255 - MEAN) / STD
    # One grey level is 1/255 before the division by std (smallest std 0.224).
    assert (y - ref).abs().max() <= 1.0 / 255 / 0.224 + 1e-5


def test_bad_resize_filter():
    from livefoley.protocol.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        FramePreprocessor(out_h_px=28, out_w_px=28, resize_filter="lanczos")
    assert "expected resize_filter 'bilinear' or 'bicubic', found 'lanczos'" in str(err.value)


def test_bad_dtype():
    with pytest.raises(ProtocolError) as err:
        FramePreprocessor(out_h_px=28, out_w_px=28)(torch.zeros(1, 8, 8, 4), "RGBA8")
    assert "expected dtype torch.uint8, found torch.float32" in str(err.value)


def test_bad_channel_count_for_format():
    pre = FramePreprocessor(out_h_px=28, out_w_px=28)
    with pytest.raises(ProtocolError) as err:
        pre(torch.zeros(1, 8, 8, 4, dtype=torch.uint8), "RGB8")
    assert "frames in RGB8: expected 3 channels, found 4" in str(err.value)
    with pytest.raises(ProtocolError) as err:
        pre(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), "BGRA8")
    assert "frames in BGRA8: expected 4 channels, found 3" in str(err.value)


def test_unknown_pixel_format():
    with pytest.raises(ProtocolError) as err:
        FramePreprocessor(out_h_px=28, out_w_px=28)(torch.zeros(1, 8, 8, 4, dtype=torch.uint8),
                                                    "YUV420")
    assert "expected one of ['RGBA8', 'BGRA8', 'RGB8'], found 'YUV420'" in str(err.value)


def test_bad_rank_and_type():
    pre = FramePreprocessor(out_h_px=28, out_w_px=28)
    with pytest.raises(ProtocolError) as err:
        pre(torch.zeros(8, 8, 4, dtype=torch.uint8), "RGBA8")
    assert "expected 4 dims (B, H, W, C), found shape (8, 8, 4)" in str(err.value)
    with pytest.raises(ProtocolError) as err:
        pre(np.zeros((1, 8, 8, 4), np.uint8), "RGBA8")
    assert "expected a torch.Tensor, found ndarray" in str(err.value)
    with pytest.raises(ProtocolError) as err:
        pre(torch.zeros(1, 0, 8, 4, dtype=torch.uint8), "RGBA8")
    assert "expected height and width >= 1, found 0x8" in str(err.value)
