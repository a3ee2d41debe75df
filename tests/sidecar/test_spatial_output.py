"""Per-session output layouts (issue 9): which (model, session) pairs are allowed, and that a FOA
model's blocks reach the ring head-tracked by each frame's orientation and rendered in the
session's layout, exactly as models/spatial's HeadTracker and SpatialOutput would render them."""

import dataclasses

import numpy as np
import pytest

from livefoley.engine_bindings.host import InProcessPipeline
from livefoley.models import TINY, build_model, save_checkpoint
from livefoley.models.spatial.binaural import BinauralConfig
from livefoley.models.spatial.output import SpatialOutput
from livefoley.models.spatial.rotation import HeadTracker
from livefoley.protocol.errors import ConfigError
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.layout import SessionOutput, allowed_layouts, check_layout
from livefoley.sidecar.runtime.service import Sidecar

HOP = 1600


@pytest.fixture(scope="module")
def foa_model(tmp_path_factory):
    """A tiny model with a 4-channel (FOA) decoder and random weights, as a checkpoint file."""
    cfg = dataclasses.replace(TINY, vae=dataclasses.replace(TINY.vae, channels=4))
    path = tmp_path_factory.mktemp("foa") / "foa_tiny.safetensors"
    save_checkpoint(build_model(cfg), path)
    return str(path)




def frames(n):
    return [np.random.default_rng(k).integers(0, 255, (32, 40, 3), dtype=np.uint8) for k in range(n)]


ORIENTATIONS = [(0.0, 0.0, 0.0), (0.4, 0.1, 0.0), (1.2, -0.2, 0.3), (2.9, 0.0, -0.1), (-2.9, 0.3, 0.0)]


def run_lockstep(sc, host, fs, orientations, channels):
    """Publish frames with orientations, step the sidecar until all are voiced, return the ring."""
    for k, (f, o) in enumerate(zip(fs, orientations)):
        assert host.frames.publish(f, frame_index=k, capture_ns=k, pixel_format="RGB8", orientation=o)
    for _ in range(4 * len(fs)):
        sc.tick()
    out = np.zeros((len(fs) * HOP, channels), np.float32)
    assert host.audio.read_into(out) == len(fs) * HOP
    return out


def test_layout_rules_name_expected_and_found():
    assert allowed_layouts(2, 2) == ("stereo",)
    assert allowed_layouts(4, 4) == ("foa",)
    assert allowed_layouts(4, 2) == ("stereo", "binaural")
    assert check_layout(None, model_channels=4, session_channels=2, where="s") == "stereo"
    assert check_layout("binaural", model_channels=4, session_channels=2, where="s") == "binaural"
    with pytest.raises(ConfigError, match=r"session doom: the model outputs stereo \(2 channels\), so expected a "
                                          r"session with 2 channels, found 4"):
        check_layout(None, model_channels=2, session_channels=4, where="session doom")
    with pytest.raises(ConfigError, match=r"x: expected 'stereo' \(the model outputs stereo \(2 channels\)\), "
                                          r"found 'binaural'"):
        check_layout("binaural", model_channels=2, session_channels=2, where="x")
    with pytest.raises(ConfigError, match=r"x: expected 'stereo' or 'binaural' \(the session has 2 channels\), "
                                          r"found 'foa'"):
        check_layout("foa", model_channels=4, session_channels=2, where="x")
    with pytest.raises(ConfigError, match=r"expected a session with 2 \(stereo or binaural\) or 4 \(foa\) "
                                          r"channels, found 3"):
        check_layout(None, model_channels=4, session_channels=3, where="x")
    with pytest.raises(ConfigError, match="expected 2 .stereo. or 4 .FOA. output channels, found 6"):
        check_layout(None, model_channels=6, session_channels=2, where="x")


def test_session_output_equals_the_spatial_chain_block_by_block():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((HOP, 4)).astype(np.float32) for _ in ORIENTATIONS]
    for layout in ("foa", "binaural", "stereo"):
        out = SessionOutput(layout, model_channels=4, sample_rate_hz=48000)
        ref = SpatialOutput(layout, binaural=BinauralConfig(sample_rate_hz=48000))
        for block, o in zip(blocks, ORIENTATIONS):
            got = out.render(block, o)
            assert got.shape == (HOP, 4 if layout == "foa" else 2) and got.flags.c_contiguous
            np.testing.assert_array_equal(got, ref.process(block.T, o).T)
    # None (and non-finite angles) keep the last orientation rather than jumping to 0.
    out = SessionOutput("foa", model_channels=4, sample_rate_hz=48000)
    out.render(blocks[0], (1.0, 0.0, 0.0))
    out.render(blocks[1], None)
    out.render(blocks[2], (float("nan"), 0.0, 0.0))
    assert out.orientation == (1.0, 0.0, 0.0)
    stereo = SessionOutput("stereo", model_channels=2, sample_rate_hz=48000)
    b = rng.standard_normal((HOP, 2)).astype(np.float32)
    assert stereo.render(b, (1.0, 0.0, 0.0)) is b and not stereo.head_tracked


def test_foa_model_on_a_four_channel_session_is_head_tracked_per_frame(make_session, session_name, foa_model):
    host = make_session(channels=4, frame_mode="fifo", frame_slots=8)
    sc = Sidecar([session_name], model=foa_model, config=RuntimeConfig(lockstep=True, seed=3, warmup_steps=0))
    fs = frames(len(ORIENTATIONS))
    try:
        assert sc.hello()["audio"]["channel_layout"] == "foa" and sc.hello()["audio"]["channels"] == 4
        got = run_lockstep(sc, host, fs, ORIENTATIONS, 4)
        assert "spatial" in sc.stats()["latency_ms"]
    finally:
        sc.request_stop("test over")
        sc.run()
    pipe = InProcessPipeline(foa_model, seed=3)
    world = [pipe.step(f) for f in fs]  # (hop, 4) each, panorama frame
    assert all(np.abs(w).max() > 0 for w in world)
    tracker = HeadTracker()
    expect = np.concatenate([tracker.process(w.T, *o).T for w, o in zip(world, ORIENTATIONS)])
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-6)
    # The first block (orientation 0 throughout) is the world-frame audio; the turned ones are not.
    np.testing.assert_allclose(got[:HOP], world[0], rtol=0, atol=1e-6)
    assert np.abs(got[2 * HOP:3 * HOP] - world[2]).max() > 1e-3 * np.abs(world[2]).max()


def test_foa_model_on_a_stereo_session_renders_stereo_then_binaural_on_configure(make_session, session_name,
                                                                                foa_model):
    host = make_session(channels=2, frame_mode="fifo", frame_slots=8)
    sc = Sidecar([session_name], model=foa_model, config=RuntimeConfig(lockstep=True, seed=3, warmup_steps=0))
    fs = frames(4)
    o = ORIENTATIONS[:4]
    try:
        assert sc.current_config()["channel_layout"] == "stereo"
        first = run_lockstep(sc, host, fs[:2], o[:2], 2)
        with pytest.raises(ConfigError, match=r"expected 'stereo' or 'binaural' \(the session has 2 channels\), "
                                              r"found 'foa'"):
            sc.configure({"channel_layout": "foa"})
        assert sc.configure({"channel_layout": "binaural"})["channel_layout"] == "binaural"
        second = run_lockstep(sc, host, fs[2:], o[2:], 2)
    finally:
        sc.request_stop("test over")
        sc.run()
    pipe = InProcessPipeline(foa_model, seed=3)
    world = [pipe.step(f).T for f in fs]
    stereo = SpatialOutput("stereo")
    expect_first = np.concatenate([stereo.process(w, oo).T for w, oo in zip(world[:2], o[:2])])
    binaural = SpatialOutput("binaural", initial=o[1])  # continues from the orientation reached
    expect_second = np.concatenate([binaural.process(w, oo).T for w, oo in zip(world[2:], o[2:])])
    np.testing.assert_allclose(first, expect_first, rtol=0, atol=1e-6)
    np.testing.assert_allclose(second, expect_second, rtol=0, atol=1e-6)


def test_stereo_model_refuses_a_four_channel_session_and_spatial_layouts(make_session, session_name):
    make_session("-four", channels=4)
    with pytest.raises(ConfigError, match=rf"session {session_name}-four: the model outputs stereo \(2 channels\), "
                                          r"so expected a session with 2 channels, found 4"):
        Sidecar([session_name + "-four"], model="tiny", config=RuntimeConfig(warmup_steps=0), attach_timeout_s=0)
    make_session()
    sc = Sidecar([session_name], model="tiny", autostart=False, config=RuntimeConfig(warmup_steps=0))
    try:
        for layout in ("binaural", "foa"):
            with pytest.raises(ConfigError, match=rf"channel_layout \(session {session_name}\): expected 'stereo' "
                                                  rf"\(the model outputs stereo \(2 channels\)\), found '{layout}'"):
                sc.configure({"channel_layout": layout})
        assert sc.configure({"channel_layout": "stereo"})["channel_layout"] == "stereo"
    finally:
        sc.request_stop("test over")
        sc.run()


def test_in_process_pipeline_with_a_layout_equals_a_lockstep_sidecar(make_session, session_name, foa_model):
    host = make_session(channels=2, frame_mode="fifo", frame_slots=8)
    sc = Sidecar([session_name], model=foa_model, config=RuntimeConfig(lockstep=True, seed=5, warmup_steps=0))
    fs = frames(len(ORIENTATIONS))
    try:
        sc.configure({"channel_layout": "binaural"})
        got = run_lockstep(sc, host, fs, ORIENTATIONS, 2)
    finally:
        sc.request_stop("test over")
        sc.run()
    pipe = InProcessPipeline(foa_model, seed=5, channel_layout="binaural")
    assert pipe.channels == 2
    expect = np.concatenate([pipe.step(f, orientation=o) for f, o in zip(fs, ORIENTATIONS)])
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-6)
    with pytest.raises(ConfigError, match=r"InProcessPipeline channel_layout: expected 'stereo' \(the model outputs "
                                          r"stereo \(2 channels\)\), found 'binaural'"):
        InProcessPipeline("tiny", channel_layout="binaural")
