"""The sampler's extras (noise correlation, feedback noise, history guidance) where users sample:
`serve`/`render`/`demo` flags, the runtime config, the in-process pipeline and the control
channel's `configure`. Real shared memory, a real sidecar process and a real socket; nothing
mocked. What the options do to the audio is tested in tests/models/."""

import argparse

import numpy as np
import pytest

from livefoley.engine_bindings.host import Host, InProcessPipeline
from livefoley.models.history_guidance import HISTORY_GUIDANCE_LIMIT
from livefoley.models.noise_options import FEEDBACK_NOISE_LIMIT
from livefoley.protocol.control.codes import ControlConfigError
from livefoley.protocol.control.schema import CONFIGURE_ARGS
from livefoley.protocol.errors import ConfigError
from livefoley.sidecar import sampler_flags, serve
from livefoley.sidecar.runtime.config import SAMPLER_OPTIONS, RuntimeConfig
from livefoley.sidecar.runtime.service import Sidecar

HOP = 1600
ALL_ON = {"noise_correlation": 0.6, "feedback_noise": 0.5, "history_guidance": 0.5}


def _frames(n):
    return [np.random.default_rng(k).integers(0, 255, (32, 40, 3), dtype=np.uint8) for k in range(n)]


def test_lockstep_sidecar_with_the_options_equals_the_in_process_pipeline_and_differs_without(
        make_session, session_name):
    host = make_session(frame_mode="fifo", frame_slots=8)
    sc = Sidecar([session_name], model="tiny",
                 config=RuntimeConfig(lockstep=True, seed=5, warmup_steps=1, sampler_options=ALL_ON))
    frames = _frames(5)
    try:
        assert sc.model.sampler_state() == ALL_ON
        sc.warm_up(height=32, width=40)
        for k, f in enumerate(frames):
            assert host.frames.publish(f, frame_index=k, capture_ns=k, pixel_format="RGB8")
        for _ in range(20):
            sc.tick()
        audio = np.zeros((5 * HOP, 2), np.float32)
        assert host.audio.read_into(audio) == 5 * HOP
    finally:
        sc.request_stop("test over")
        sc.run()
    with_options = InProcessPipeline("tiny", seed=5, sampler_options=ALL_ON)
    assert np.array_equal(audio, np.concatenate([with_options.step(f) for f in frames]))
    plain = InProcessPipeline("tiny", seed=5)
    assert not np.allclose(audio, np.concatenate([plain.step(f) for f in frames]), atol=1e-4)


def test_configure_changes_the_options_and_a_refused_value_changes_nothing(make_session, session_name):
    make_session()
    sc = Sidecar([session_name], model="tiny", autostart=False,
                 config=RuntimeConfig(warmup_steps=0, sampler_options={"history_guidance": 0.5}))
    try:
        gen = sc.model.generator
        assert gen.cache.batch_size == 3  # cond, null and no-history rows for one session
        reply = sc.configure({"history_guidance": 1.0, "noise_correlation": 0.25})
        assert (reply["history_guidance"], reply["noise_correlation"], reply["feedback_noise"]) == (1.0, 0.25, 0.0)
        assert gen.cache.batch_size == 2 and sc.config.sampler_options["history_guidance"] == 1.0
        with pytest.raises(ConfigError, match=r"feedback_noise: expected 0 <= f < 10, found 10.0"):
            sc.configure({"feedback_noise": 10.0, "noise_correlation": 0.9})
        assert sc.current_config()["noise_correlation"] == 0.25 and gen.feedback_noise == 0.0
        assert dict(sc.config.sampler_options) == {"history_guidance": 1.0, "noise_correlation": 0.25}
    finally:
        sc.request_stop("test over")
        sc.run()


def test_history_guidance_on_a_text_model_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"history_guidance: expected 1.0 for a text model .*found 0.5"):
        InProcessPipeline("spatial_tiny", sampler_options={"history_guidance": 0.5})


def test_runtime_config_names_an_unknown_option_and_a_non_number():
    with pytest.raises(ConfigError, match=r"sampler_options: expected keys from \['noise_correlation', "
                                          r"'feedback_noise', 'history_guidance'\], found 'history'"):
        RuntimeConfig(sampler_options={"history": 0.5})
    with pytest.raises(ConfigError, match=r"sampler_options\['feedback_noise'\]: expected a number, found str"):
        RuntimeConfig(sampler_options={"feedback_noise": "0.5"})
    options = {"feedback_noise": 1}
    cfg = RuntimeConfig(sampler_options=options)
    options["feedback_noise"] = 2  # the config keeps its own copy, frozen
    assert cfg.sampler_options == {"feedback_noise": 1.0}
    with pytest.raises(TypeError):
        cfg.sampler_options["feedback_noise"] = 3.0


def test_serve_flags_round_trip_through_argv():
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--session", "s", "--model", "tiny", *sampler_flags.argv(ALL_ON)])
    assert sampler_flags.overrides(args) == ALL_ON
    assert dict(serve._config(args).sampler_options) == ALL_ON
    unset = parser.parse_args(["--session", "s", "--model", "tiny"])
    assert sampler_flags.overrides(unset) == {} and dict(serve._config(unset).sampler_options) == {}
    with pytest.raises(KeyError, match="expected one of .* found 'rho'"):
        sampler_flags.argv({"rho": 0.5})


def test_control_schema_ranges_are_the_models_ranges():
    spec = {a.name: a for a in CONFIGURE_ARGS}
    assert set(SAMPLER_OPTIONS) <= set(spec)
    assert (spec["noise_correlation"].min_value, spec["noise_correlation"].max_value) == (0.0, 1.0)
    assert (spec["feedback_noise"].min_value, spec["feedback_noise"].max_value) == (0.0, FEEDBACK_NOISE_LIMIT)
    assert (spec["history_guidance"].min_value, spec["history_guidance"].max_value) == (
        -HISTORY_GUIDANCE_LIMIT, HISTORY_GUIDANCE_LIMIT)


def test_a_served_sidecar_takes_the_flags_and_answers_configure_over_the_socket(tmp_path):
    with Host(max_width_px=40, max_height_px=32) as host:
        host.spawn_sidecar(model="tiny", log_path=tmp_path / "sidecar.log",
                           extra_args=("--idle", "--warmup-steps", "0", *sampler_flags.argv({"history_guidance": 0.5})))
        host.publish(np.zeros((32, 40, 3), np.uint8))
        host.await_sidecar(timeout_s=120.0)
        ctl = host.control(timeout_s=30.0)
        reply = ctl.call("configure", {"noise_correlation": 0.5})
        assert (reply["history_guidance"], reply["noise_correlation"]) == (0.5, 0.5)
        reply = ctl.call("configure", {"history_guidance": 1})
        assert reply["history_guidance"] == 1.0
        with pytest.raises(ControlConfigError, match=r"history_guidance.*expected float in \[-4, 4\].*found 5") as out:
            ctl.call("configure", {"history_guidance": 5.0}, validate=False)  # the server's schema check
        assert out.value.code == "out_of_range"
        with pytest.raises(ControlConfigError, match=r"feedback_noise: expected 0 <= f < 10, found 10") as out:
            ctl.call("configure", {"feedback_noise": 10.0})  # in the schema's range; the model refuses it
        assert out.value.code == "config_rejected"
        assert ctl.call("configure", {"gain": 1.0})["feedback_noise"] == 0.0
