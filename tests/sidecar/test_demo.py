"""`livefoley demo` end to end for a few seconds: ViZDoom, a spawned sidecar, the C reader at
device cadence, and the three outputs (two mp4 files and the report). The real-time claims are
in test_e2e.py; this checks that the demo's measurements and files are what it says they are."""

import json
import subprocess
import sys

import numpy as np
import pytest

from livefoley.sidecar.media import decode_video, read_audio

pytestmark = pytest.mark.slow


def test_demo_writes_videos_and_a_report_with_every_figure(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "livefoley.sidecar.cli", "demo", "--seconds", "3", "--model", "tiny",
           "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "RANDOM weights" in run.stdout and "NOT meaningful" in run.stdout
    report = json.loads((out / "demo-report.json").read_text())
    assert report["model_trained"] is False
    assert report["frames"]["published"] == 105  # 3 s at 35 tics/s
    assert report["audio"]["callbacks"] > 0.9 * 3 * 48000 / 256
    assert report["latency_ms"]["glass_to_ear"]["n"] > 10
    g2e = report["latency_ms"]["glass_to_ear"]
    assert 0 < g2e["p50"] <= g2e["p99"] < 2000
    for stage in ("frame_in", "vision", "transformer", "head", "vae", "ring_write", "total"):
        assert report["latency_ms"]["per_stage"][stage]["n"] > 0, stage
    assert "underruns_after_startup" in report and "dropped_by_mailbox" in report["frames"]
    md = (out / "demo-report.md").read_text()
    assert "glass-to-ear" in md and "underruns after start-up" in md
    for name in ("demo.mp4", "demo-reference.mp4"):
        video = decode_video(out / name)
        assert video.frames.shape[1:] == (240, 320, 3) and abs(video.frames.shape[0] - 105) <= 1
        audio, rate = read_audio(out / name)
        assert rate == 48000 and abs(audio.shape[0] - 3 * 48000) < 4096
    reference, _ = read_audio(out / "demo-reference.mp4")
    assert np.abs(reference).max() > 0.01  # the game's own sound made it through the resampler
