"""Panoramic frames in the sidecar (issue 9): a cube-map frame (6 faces stacked, descriptor
projection CUBEMAP) is resampled to an equirectangular frame with models/spatial's
cubemap_to_equirect on the model's device; an equirectangular frame passes through unchanged."""

import numpy as np
import pytest
import torch

from livefoley.engine_bindings.host import InProcessPipeline
from livefoley.models.spatial.equirect import FACE_NAMES, cubemap_to_equirect, pixel_of_direction
from livefoley.protocol import Projection, ProtocolError, SessionParams, create_session
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.panorama import CubemapConverter
from livefoley.sidecar.runtime.service import Sidecar

HOP = 1600
S = 16  # face size: the equirect is 2S x 4S


def face_strip(rng=None):
    """Each face a flat colour (40 * (face + 1)) plus, with rng, noise: (6S, S, 3) uint8."""
    faces = np.concatenate([np.full((S, S, 3), 40 * (f + 1), np.uint8) for f in range(6)])
    if rng is not None:
        faces = (faces.astype(np.int16) + rng.integers(-20, 20, faces.shape)).clip(0, 255).astype(np.uint8)
    return faces


def test_cube_map_faces_land_in_their_directions():
    pano = CubemapConverter("cpu")(face_strip()).numpy()
    assert pano.shape == (2 * S, 4 * S, 3) and pano.dtype == np.uint8
    where = {"front": (0, 0), "left": (90, 0), "right": (-90, 0), "back": (180, 0), "up": (0, 89), "down": (0, -89)}
    for name, (az, el) in where.items():
        i, j = pixel_of_direction(np.radians(az), np.radians(el), 4 * S, 2 * S)
        assert pano[i, j, 0] == 40 * (FACE_NAMES.index(name) + 1), name
    rng = np.random.default_rng(0)
    strip = face_strip(rng)
    faces = torch.from_numpy(strip).view(6, S, S, 3).permute(0, 3, 1, 2).float()
    expect = cubemap_to_equirect(faces, 2 * S, 4 * S).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
    assert torch.equal(CubemapConverter("cpu")(strip), expect)
    with pytest.raises(ProtocolError, match=r"frame 3: cube map: expected height 6 x width, found 16x80"):
        CubemapConverter("cpu")(strip[:80], 3)


@pytest.fixture
def fifo(session_name):
    s = create_session(session_name, SessionParams(channels=4, frame_mode="fifo", frame_slots=8,
                                                   max_frame_bytes=6 * S * S * 3 + 4 * S * 2 * S * 3))
    s.beat("host")
    yield s
    s.close()


def test_sidecar_voices_a_cube_map_as_its_equirect_and_equirect_unchanged(fifo, session_name):
    rng = np.random.default_rng(1)
    cube = face_strip(rng)
    equi = rng.integers(0, 255, (2 * S, 4 * S, 3), dtype=np.uint8)
    sc = Sidecar([session_name], model="spatial_tiny", config=RuntimeConfig(lockstep=True, seed=2, warmup_steps=0))
    try:
        assert fifo.frames.publish(cube, frame_index=0, capture_ns=0, pixel_format="RGB8",
                                   projection=Projection.CUBEMAP)
        sc.tick()
        staged = sc.sessions[0].intake.staged
        assert tuple(staged.pixels.shape) == (2 * S, 4 * S, 3) and sc.cubemap.frames_converted == 1
        assert fifo.frames.publish(equi, frame_index=1, capture_ns=1, pixel_format="RGB8")
        for _ in range(4):
            sc.tick()
        np.testing.assert_array_equal(np.asarray(sc.sessions[0].intake.staged.pixels), equi)  # not resampled
        assert sc.cubemap.frames_converted == 1 and sc.sessions[0].intake.frames_rejected == 0
        got = np.zeros((2 * HOP, 4), np.float32)
        assert fifo.audio.read_into(got) == 2 * HOP
    finally:
        sc.request_stop("test over")
        sc.run()
    pipe = InProcessPipeline("spatial_tiny", seed=2)
    expect = np.concatenate([pipe.step(CubemapConverter("cpu")(cube).numpy()), pipe.step(equi)])
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-6)  # orientation 0: head tracking is identity


def test_a_cube_map_session_and_an_equirect_session_step_as_one_batch(session_name):
    params = SessionParams(channels=4, frame_mode="fifo", frame_slots=4, max_frame_bytes=8 * S * S * 3)
    a, b = create_session(session_name + "-a", params), create_session(session_name + "-b", params)
    rng = np.random.default_rng(3)
    cube, equi = face_strip(rng), rng.integers(0, 255, (2 * S, 4 * S, 3), dtype=np.uint8)
    sc = None
    try:
        a.beat("host")
        b.beat("host")
        sc = Sidecar([session_name + "-a", session_name + "-b"], model="spatial_tiny",
                     config=RuntimeConfig(lockstep=True, seed=4, warmup_steps=0))
        assert a.frames.publish(cube, frame_index=0, capture_ns=0, pixel_format="RGB8", projection=Projection.CUBEMAP)
        assert b.frames.publish(equi, frame_index=0, capture_ns=0, pixel_format="RGB8")
        sc.tick()
        assert [r["frame_index"] for r in sc.step_log.rows()] == [0, 0]
        got = [np.zeros((HOP, 4), np.float32), np.zeros((HOP, 4), np.float32)]
        assert a.audio.read_into(got[0]) == HOP and b.audio.read_into(got[1]) == HOP
    finally:
        if sc is not None:
            sc.request_stop("test over")
            sc.run()
        a.close()
        b.close()
    pipe = InProcessPipeline("spatial_tiny", seed=4, batch_size=2)
    expect = pipe.step(np.stack([CubemapConverter("cpu")(cube).numpy(), equi]))
    np.testing.assert_allclose(np.stack(got), expect, rtol=0, atol=1e-6)
