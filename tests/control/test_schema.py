"""The schema in protocol/control: argument checks, error codes, telemetry checks."""

import math
import subprocess
import sys

import pytest

from livefoley.protocol.control import codes
from livefoley.protocol.control.codes import (
    ControlCheckpointError,
    ControlConfigError,
    ControlProtocolError,
    ControlSessionError,
    ErrorCode,
    code_for_exception,
    make_error,
)
from livefoley.protocol.control.schema import OPS, parse_cli_value, validate_args
from livefoley.protocol.control.telemetry import format_telemetry, validate_telemetry
from livefoley.protocol.errors import CheckpointError, ConfigError, DeviceError, SessionError


def test_importing_protocol_control_loads_neither_zmq_nor_torch():
    code = "import sys, livefoley.protocol.control; print('zmq' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["False", "False"]


def test_every_operation_of_the_issue_is_in_the_schema():
    assert set(OPS) == {"hello", "configure", "start", "stop", "reset", "stats", "ping", "prompt", "shutdown"}


def test_configure_accepts_every_documented_setting():
    args = {
        "model": "tiny", "nfe": 4, "guidance_scale": 3, "seed": 7, "gain": 0.5,
        "target_latency_ms": 66.7, "channel_layout": "binaural", "prompt": "rain", "telemetry_rate_hz": 5,
    }
    out = validate_args("configure", args)
    assert out == {**args, "guidance_scale": 3.0, "telemetry_rate_hz": 5.0}
    assert isinstance(out["guidance_scale"], float)


def test_unknown_op():
    with pytest.raises(ControlProtocolError) as e:
        validate_args("frobnicate", {})
    assert e.value.code == "unknown_op" and "'frobnicate'" in str(e.value) and "configure" in str(e.value)


def test_args_not_a_map():
    with pytest.raises(ControlConfigError) as e:
        validate_args("ping", [1, 2])
    assert e.value.code == "bad_argument" and "map" in str(e.value) and "list" in str(e.value)


def test_wrong_argument_type():
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {"nfe": "two"})
    assert e.value.code == "bad_argument" and "expected int" in str(e.value) and "str" in str(e.value)


def test_bool_is_not_an_int():
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {"seed": True})
    assert e.value.code == "bad_argument" and "bool" in str(e.value)


@pytest.mark.parametrize(
    "key,value,expected",
    [("nfe", 0, "[1, 4]"), ("nfe", 5, "[1, 4]"), ("gain", -0.1, "[0, 8]"), ("target_latency_ms", 1e9, "[5, 2000]"),
     ("channel_layout", "7.1", "stereo|foa|binaural"), ("seed", -1, "[0,")],
)
def test_out_of_range(key, value, expected):
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {key: value})
    assert e.value.code == "out_of_range" and expected in str(e.value) and repr(value) in str(e.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_is_out_of_range(value):
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {"gain": value})
    assert e.value.code == "out_of_range" and "finite" in str(e.value)


def test_unknown_argument_names_the_valid_ones():
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {"nfe_steps": 2})
    assert e.value.code == "bad_argument" and "'nfe_steps'" in str(e.value) and "nfe" in str(e.value)


def test_missing_required_argument():
    with pytest.raises(ControlConfigError) as e:
        validate_args("prompt", {})
    assert e.value.code == "bad_argument" and "'text'" in str(e.value)


def test_configure_needs_at_least_one_setting():
    with pytest.raises(ControlConfigError) as e:
        validate_args("configure", {})
    assert e.value.code == "bad_argument" and "at least one" in str(e.value) and "found none" in str(e.value)


def test_prompt_too_long():
    with pytest.raises(ControlConfigError) as e:
        validate_args("prompt", {"text": "x" * 1025})
    assert e.value.code == "out_of_range" and "1024" in str(e.value) and "1025" in str(e.value)


def test_cli_values_are_parsed_to_schema_types():
    assert parse_cli_value("configure", "nfe", "2") == 2
    assert parse_cli_value("configure", "gain", "0.5") == 0.5
    assert parse_cli_value("configure", "channel_layout", "foa") == "foa"
    with pytest.raises(ControlConfigError, match="expected int, found 'x'"):
        parse_cli_value("configure", "nfe", "x")


def test_every_code_maps_to_a_typed_exception_that_keeps_it():
    for code in ErrorCode:
        exc = make_error(code, "m")
        assert exc.code == code.value and str(exc) == "m"
    assert isinstance(make_error("out_of_range", ""), ConfigError)
    assert isinstance(make_error("bad_state", ""), SessionError)
    assert isinstance(make_error("checkpoint_error", ""), ControlCheckpointError)
    future = make_error("some_future_code", "m")
    assert isinstance(future, ControlProtocolError) and future.code == "some_future_code"


def test_library_exceptions_map_to_codes_at_one_place():
    assert code_for_exception(ConfigError("x")) == "config_rejected"
    assert code_for_exception(SessionError("x")) == "bad_state"
    assert code_for_exception(DeviceError("x")) == "device_error"
    assert code_for_exception(CheckpointError("x")) == "checkpoint_error"
    assert code_for_exception(ControlSessionError("x", code="bad_state")) == "bad_state"
    assert code_for_exception(KeyError("x")) == "internal_error"
    assert set(codes.__all__) >= {"ErrorCode", "make_error"}


def _telemetry(**over):
    body = {
        "steps": 3, "ring_fill_frames": 1600, "ring_capacity_frames": 4096, "underruns": 0,
        "deadline_misses": 1, "frames_dropped": 2,
        "stage_latency_ms": {"total": {"last": 20.0, "p50": 19.5, "p99": 30, "max": 31.0}},
    }
    body.update(over)
    return body


def test_telemetry_valid_body_is_normalised():
    out = validate_telemetry(_telemetry(running=True, extra={"fps": 35.0}))
    assert out["stage_latency_ms"]["total"]["p99"] == 30.0 and isinstance(out["t_ns"], int)
    line = format_telemetry(out)
    assert line.split()[:2] == ["steps", "3"] and "1600/4096 (39%)" in line and "p99 30.0" in line


@pytest.mark.parametrize(
    "over,expected",
    [({"steps": -1}, "'steps': expected int >= 0, found -1"),
     ({"underruns": 1.5}, "'underruns': expected int >= 0, found 1.5"),
     ({"bogus": 1}, "unknown fields ['bogus']"),
     ({"stage_latency_ms": {"vae": {"p50": 1.0}}}, "stage 'vae': expected a map with keys"),
     ({"stage_latency_ms": {"vae": {"last": 1, "p50": math.nan, "p99": 1, "max": 1}}}, "found nan"),
     ({"running": "yes"}, "'running': expected bool, found 'yes'")],
)
def test_telemetry_schema_violations(over, expected):
    with pytest.raises(ConfigError) as e:
        validate_telemetry(_telemetry(**over))
    assert expected in str(e.value)


def test_telemetry_missing_counter():
    body = _telemetry()
    del body["frames_dropped"]
    with pytest.raises(ConfigError, match="'frames_dropped': expected int >= 0, found None"):
        validate_telemetry(body)
