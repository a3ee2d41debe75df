"""Cube map -> equirectangular conversion (torch): geometry, face orientation, device."""

import math

import numpy as np
import pytest
import torch

from livefoley.models.spatial import equirect
from livefoley.protocol.errors import ConfigError


def _field(d):
    """A smooth colour field over directions (..., 3) -> (..., 3)."""
    return np.stack([0.5 + 0.5 * d[..., 0], 0.5 + 0.5 * d[..., 1], 0.5 + 0.5 * d[..., 2] * d[..., 0]], -1)


def test_cubemap_of_smooth_field_converts_to_the_same_field():
    s, h, w = 64, 64, 128
    faces = torch.tensor(_field(equirect.cubemap_directions(s)), dtype=torch.float32).permute(0, 3, 1, 2)
    pano = equirect.cubemap_to_equirect(faces, h, w)  # (3, H, W)
    expected = _field(equirect.equirect_directions(w, h)).transpose(2, 0, 1)
    assert pano.shape == (3, h, w)
    assert np.abs(pano.numpy() - expected).max() < 0.03


@pytest.mark.parametrize("face, az_deg, el_deg", [
    ("front", 0, 0), ("back", 180, 0), ("left", 90, 0), ("right", -90, 0), ("up", 0, 89), ("down", 0, -89)])
def test_each_face_lands_where_it_looks(face, az_deg, el_deg):
    faces = torch.zeros(6, 1, 16, 16)
    faces[equirect.FACE_NAMES.index(face)] = 1.0
    pano = equirect.cubemap_to_equirect(faces, 64, 128)[0]
    i, j = equirect.pixel_of_direction(math.radians(az_deg), math.radians(el_deg), 128, 64)
    assert pano[i, j] == pytest.approx(1.0)


def test_up_face_orientation_top_of_image_is_behind():
    faces = torch.zeros(6, 1, 16, 16)
    faces[equirect.FACE_NAMES.index("up"), 0, :4, :] = 1.0  # top rows of the up face
    pano = equirect.cubemap_to_equirect(faces, 64, 128)[0]
    i, j_back = equirect.pixel_of_direction(math.pi, math.radians(60), 128, 64)
    _, j_front = equirect.pixel_of_direction(0.0, math.radians(60), 128, 64)
    assert pano[i, j_back] == 1.0 and pano[i, j_front] == 0.0


def test_batched_and_bad_shape():
    faces = torch.rand(2, 6, 3, 8, 8)
    out = equirect.cubemap_to_equirect(faces, 16, 32)
    assert out.shape == (2, 3, 16, 32)
    torch.testing.assert_close(out[1], equirect.cubemap_to_equirect(faces[1], 16, 32))
    with pytest.raises(ConfigError, match=r"\(6, C, S, S\).*\(5, 3, 8, 8\)"):
        equirect.cubemap_to_equirect(torch.rand(5, 3, 8, 8), 16, 32)


@pytest.mark.gpu
def test_runs_on_cuda_device():
    faces = torch.rand(6, 3, 32, 32, device="cuda")
    out = equirect.cubemap_to_equirect(faces, 64, 128)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), equirect.cubemap_to_equirect(faces.cpu(), 64, 128), atol=1e-5, rtol=1e-5)


def test_pad_equirect_continues_across_seam_and_poles():
    h, w, p = 16, 32, 3
    pano = torch.tensor(_field(equirect.equirect_directions(w, h)), dtype=torch.float64).permute(2, 0, 1)
    padded = equirect.pad_equirect(pano, p)
    assert padded.shape == (3, h + 2 * p, w + 2 * p)
    # The direction of an out-of-range pixel follows from the same pixel formula (el > 90 deg
    # goes over the pole), so the padded image must equal the field sampled there.
    j = np.arange(-p, w + p)
    i = np.arange(-p, h + p)
    az = np.pi - 2 * np.pi * (j + 0.5) / w
    el = np.pi / 2 - np.pi * (i + 0.5) / h
    from livefoley.models.spatial.foa import direction_to_unit

    expected = _field(direction_to_unit(az[None, :], el[:, None])).transpose(2, 0, 1)
    np.testing.assert_allclose(padded.numpy(), expected, atol=1e-9)
    with pytest.raises(ConfigError, match="W=31, pad=2"):
        equirect.pad_equirect(torch.zeros(1, 16, 31), 2)
