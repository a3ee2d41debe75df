"""`configure` is all or nothing: a request the runtime refuses changes nothing, whichever key
it refuses and wherever that key sits in the request. Real shared memory and a real sidecar;
the last test goes through a real `serve` process and its socket."""

import numpy as np
import pytest

from livefoley.engine_bindings.host import Host
from livefoley.protocol.control.codes import ControlConfigError
from livefoley.protocol.errors import ConfigError
from livefoley.sidecar.runtime.config import RuntimeConfig
from livefoley.sidecar.runtime.service import Sidecar

# The make_session ring holds 16384 frames (341 ms at 48 kHz): 1000 ms cannot fit.
TOO_LONG_MS = 1000.0
GOOD = {"gain": 0.5, "noise_correlation": 0.5, "feedback_noise": 0.25, "nfe": 2, "guidance_scale": 2.0,
        "seed": 9, "target_latency_ms": 100.0}


def _state(sc):
    gen = sc.model.generator
    return {"config": sc.current_config(), "runtime": sc.config, "fill": sc.target_fill_frames,
            "ladder": [(lv.nfe, lv.guidance_scale) for lv in sc.governor.ladder],
            "generator": (gen.nfe, gen.guidance_scale, gen.noise_correlation, gen.feedback_noise, gen.seed,
                          gen.cache.batch_size),
            "layouts": [s.output.layout for s in sc.sessions]}


@pytest.fixture
def sidecar(make_session, session_name):
    make_session()
    sc = Sidecar([session_name], model="tiny", autostart=False, config=RuntimeConfig(warmup_steps=0))
    yield sc
    sc.request_stop("test over")
    sc.run()


@pytest.mark.parametrize("bad,message", [
    ({"target_latency_ms": TOO_LONG_MS}, r"target latency 48000 frames plus one step \(1600\) expected to fit the ring, "
                                         r"found capacity 16384 frames"),
    ({"model": "sr"}, r"configure model: expected 'tiny' .*found 'sr'"),
    ({"channel_layout": "foa"}, r"configure channel_layout"),
    ({"feedback_noise": 10.0}, r"feedback_noise: expected 0 <= f < 10, found 10.0"),
    ({"history_guidance": 9.0}, r"history_guidance: expected -4..4, found 9.0"),
    ({"nfe": 7}, r"nfe"),
])
def test_a_refused_key_leaves_every_other_key_of_the_request_unapplied(sidecar, bad, message):
    before = _state(sidecar)
    with pytest.raises(ConfigError, match=message):
        sidecar.configure({**GOOD, **bad})
    assert _state(sidecar) == before
    assert sidecar.gain == 1.0


def test_the_same_request_without_the_bad_key_applies_every_key(sidecar):
    before = _state(sidecar)
    reply = sidecar.configure(dict(GOOD))
    after = _state(sidecar)
    assert after != before
    assert (reply["gain"], reply["nfe"], reply["guidance_scale"], reply["seed"]) == (0.5, 2, 2.0, 9)
    assert (reply["noise_correlation"], reply["feedback_noise"]) == (0.5, 0.25)
    assert reply["target_latency_ms"] == pytest.approx(100.0)
    assert after["ladder"] == [(2, 2.0), (1, 2.0), (1, 1.0)]
    assert after["generator"][:4] == (2, 2.0, 0.5, 0.25)


def test_a_history_guidance_change_in_a_refused_request_does_not_restart_the_streams(sidecar):
    gen = sidecar.model.generator
    assert gen.cache.batch_size == 2
    with pytest.raises(ConfigError, match="expected to fit the ring"):
        sidecar.configure({"history_guidance": 0.5, "target_latency_ms": TOO_LONG_MS})
    assert gen.cache.batch_size == 2 and gen.history_guidance == 1.0
    assert "history_guidance" not in sidecar.config.sampler_options


def test_over_the_socket_a_refused_request_changes_nothing(tmp_path):
    with Host(max_width_px=40, max_height_px=32) as host:
        host.spawn_sidecar(model="tiny", log_path=tmp_path / "sidecar.log", extra_args=("--idle", "--warmup-steps", "0"))
        host.publish(np.zeros((32, 40, 3), np.uint8))
        host.await_sidecar(timeout_s=120.0)
        ctl = host.control(timeout_s=30.0)
        before = ctl.call("configure", {"gain": 1.0})
        capacity_ms = host.session.params.ring_capacity_frames * 1000 / 48000
        with pytest.raises(ControlConfigError, match="expected to fit the ring") as out:
            ctl.call("configure", {"gain": 0.25, "noise_correlation": 0.75, "nfe": 2,
                                   "target_latency_ms": min(2000.0, capacity_ms + 50.0)})
        assert out.value.code == "config_rejected"
        assert ctl.call("configure", {"gain": 1.0}) == before
