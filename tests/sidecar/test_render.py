"""Lockstep rendering: the same video, model and seed give the same audio, every time.

The fast tests use the in-process pipeline; the slow one renders a generated video twice
through `livefoley render` (a spawned sidecar in lockstep over a fifo session) and once in
process, and requires all three to be identical to the bit.
"""

import subprocess
import sys

import numpy as np
import pytest

from livefoley.engine_bindings.host import InProcessPipeline
from livefoley.sidecar.media import read_audio, write_video


@pytest.fixture(scope="module")
def pipeline_frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(12, 32, 40, 3), dtype=np.uint8)
    ts = (np.arange(12) * 1e9 / 35).astype(np.int64)  # 35 fps, like Doom
    return frames, ts


def test_in_process_render_is_deterministic_per_seed(pipeline_frames):
    frames, ts = pipeline_frames
    a = InProcessPipeline("tiny", seed=7).render(frames, ts)
    pipe = InProcessPipeline("tiny", seed=7)
    b = pipe.render(frames, ts)
    c = InProcessPipeline("tiny", seed=8).render(frames, ts)
    hop = pipe.hop_samples
    assert a.shape == (10 * hop, 2)  # 12 frames at 35 fps = 0.343 s -> 10 ticks at 30 Hz
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a).max() > 0
    # render() resets: rendering again with the same pipeline gives the same audio
    assert np.array_equal(pipe.render(frames, ts), b)


def test_step_rejects_a_batch_of_the_wrong_size_naming_both():
    pipe = InProcessPipeline("tiny", seed=0, batch_size=2)
    from livefoley.protocol.errors import ConfigError

    with pytest.raises(ConfigError, match=r"expected uint8 \(2, H, W, C\) or \(H, W, C\), found uint8 \(3, 8, 8, 3\)"):
        pipe.step(np.zeros((3, 8, 8, 3), np.uint8))


@pytest.mark.slow
def test_lockstep_render_through_the_sidecar_is_deterministic_and_equals_in_process(tmp_path):
    rng = np.random.default_rng(1)
    frames = [np.clip(rng.normal(128, 60, size=(48, 64, 3)), 0, 255).astype(np.uint8) for _ in range(25)]
    video = tmp_path / "in.mp4"
    write_video(video, frames, fps=25)

    def render(name, *extra):
        out = tmp_path / f"{name}.mp4"
        wav = tmp_path / f"{name}.wav"
        cmd = [sys.executable, "-m", "livefoley.sidecar.cli", "render", str(video), "-o", str(out),
               "--model", "tiny", "--seed", "3", "--wav", str(wav), *extra]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        import soundfile

        audio, rate = soundfile.read(wav, dtype="float32")
        muxed, muxed_rate = read_audio(out)
        assert rate == muxed_rate == 48000 and abs(muxed.shape[0] - audio.shape[0]) < 2048
        return audio

    first = render("a")
    second = render("b")
    inproc = render("c", "--in-process")
    assert first.shape == (30 * 1600, 2)  # 1 s of video -> 30 latent ticks of 1600 samples
    assert np.array_equal(first, second), "two lockstep renders with the same seed differ"
    assert np.array_equal(first, inproc), "the sidecar and the in-process pipeline differ"
    # The sampler flags reach the sidecar (as serve flags) and the in-process pipeline alike.
    flags = ("--history-guidance", "0.5", "--noise-correlation", "0.5")
    guided = render("d", *flags)
    assert np.array_equal(guided, render("e", "--in-process", *flags)), "the sampler flags differ by path"
    assert not np.allclose(guided, first, atol=1e-4), "the sampler flags changed nothing"
