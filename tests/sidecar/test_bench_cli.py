"""`livefoley bench` on CPU: the report's structure, every stage timed, gating exit codes.

No timing thresholds here (shared, noisy machines): the gate is tested with budgets that
no real machine can meet (0.001 ms) or miss (1e6 ms).
"""

import contextlib
import io
import json
import types

import pytest

from livefoley.sidecar.cli import main as livefoley_main

from livefoley.sidecar.bench.report import SCHEMA_VERSION
from livefoley.sidecar.bench.runner import STAGES
from livefoley.sidecar.bench.stats import compare_reports, miss_rate, run_key, summarize_ms, verdict

BENCH = ["bench", "--model", "tiny", "--seconds", "0.2", "--warmup-steps", "1",
         "--frame-size", "160x120", "--unpaced"]


def _run(tmp_path, *extra, check=True):
    """Runs `livefoley bench ...` through the real CLI entry point, in this process."""
    out = tmp_path / "report"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = livefoley_main([*BENCH, "--out", str(out), *extra])
    proc = types.SimpleNamespace(returncode=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())
    if check:
        assert code == 0, proc.stderr[-2000:]
    return proc, out


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("bench"), "--nfe", "1", "2", "--guidance", "both")


def test_report_structure_and_every_stage_timed(report_dir):
    proc, out = report_dir
    report = json.loads((out / "bench.json").read_text())
    assert report["schema_version"] == SCHEMA_VERSION
    env = report["environment"]
    for key in ("device", "device_name", "driver", "torch", "precision", "command"):
        assert key in env
    assert env["device"] == "cpu" and env["precision"] == "fp32"
    assert {(r["nfe"], r["guidance"]) for r in report["runs"]} == {(1, True), (1, False),
                                                                   (2, True), (2, False)}
    for run in report["runs"]:
        assert set(run["stages"]) == set(STAGES)
        for stage, dist in run["stages"].items():
            assert dist["count"] >= 6, f"{stage} was not timed every step"
            assert dist["p50_ms"] >= 0.0 and dist["max_ms"] >= dist["p99_ms"] >= dist["p50_ms"]
        total = run["stages"]["step_total"]["p50_ms"]
        assert run["stages"]["vision"]["p50_ms"] < total
        assert 0.0 <= run["miss_rate"] <= 1.0
        assert run["real_time_factor"] > 0
        assert run["time_to_first_audio_ms"] > 0
        assert run["peak_memory_bytes"] > 0
    assert (out / "bench.png").stat().st_size > 1000
    assert "step_total" in proc.stdout and "miss rate" in proc.stdout


def test_budget_gate_fails_with_one_line_verdict(tmp_path):
    proc, _ = _run(tmp_path, "--budget-ms", "0.001", check=False)
    assert proc.returncode == 1
    verdict_lines = [l for l in proc.stdout.splitlines() if l.startswith("bench: ")]
    assert len(verdict_lines) == 1 and verdict_lines[0].startswith("bench: FAIL")
    assert "budget 0.00 ms" in verdict_lines[0]


def test_budget_gate_passes_and_compare_prints_changes(tmp_path_factory, report_dir):
    tmp_path = tmp_path_factory.mktemp("second")
    _, old = report_dir
    proc, _ = _run(tmp_path, "--budget-ms", "1000000", "--max-miss-rate", "1.0",
                   "--compare", str(old / "bench.json"))
    assert "bench: PASS" in proc.stdout
    assert "old p99" in proc.stdout and "step_total" in proc.stdout


def test_bad_arguments_name_expected_and_found(tmp_path):
    proc, _ = _run(tmp_path, "--frame-size", "wide", check=False)
    assert proc.returncode == 2
    assert "expected WIDTHxHEIGHT" in proc.stderr and "'wide'" in proc.stderr
    proc, _ = _run(tmp_path, "--nfe", "7", check=False)
    assert proc.returncode == 2 and "expected values in 1..4, found 7" in proc.stderr
    proc, _ = _run(tmp_path, "--compare", str(tmp_path / "missing.json"), check=False)
    assert proc.returncode == 2 and "expected a bench JSON report" in proc.stderr


def test_head_both_reports_locdit_beside_mlp(tmp_path):
    proc, out = _run(tmp_path, "--head", "both")
    report = json.loads((out / "bench.json").read_text())
    runs = {r["head_kind"]: r for r in report["runs"]}
    assert set(runs) == {"mlp", "locdit"} and set(report["model_params_by_head"]) == {"mlp", "locdit"}
    mlp, locdit = runs["mlp"], runs["locdit"]
    assert (mlp["patch_latents"], mlp["output_delay_steps"], mlp["first_audio_step"]) == (1, 0, 1)
    k = locdit["patch_latents"]
    assert k > 1 and locdit["output_delay_steps"] == k - 1 and locdit["first_audio_step"] == k
    for run in (mlp, locdit):
        assert set(run["stages"]) == set(STAGES) and run["stages"]["head"]["count"] >= 6
        assert run["time_to_first_audio_ms"] > 0
    assert "head=locdit (k=4, audio 3 steps behind)" in proc.stdout and "head=mlp " in proc.stdout
    assert run_key(mlp) != run_key(locdit)  # runs of different heads never pair up in --compare


def test_head_other_than_a_checkpoints_own_is_refused(tmp_path):
    from livefoley.models import TINY, build_model, save_checkpoint

    ckpt = tmp_path / "mlp.safetensors"
    save_checkpoint(build_model(TINY), ckpt)
    out = tmp_path / "report"
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = livefoley_main(["bench", "--model", str(ckpt), "--head", "locdit", "--out", str(out)])
    assert code == 2
    assert f"--head locdit: expected 'model' or 'mlp' for checkpoint {ckpt}" in stderr.getvalue()


def test_cuda_device_refused_clearly_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present; the refusal path does not apply")
    proc, _ = _run(tmp_path, "--device", "cuda", check=False)
    assert proc.returncode == 2
    assert "expected a CUDA device, found none" in proc.stderr


def test_stats_on_known_values():
    s = summarize_ms(list(range(1, 101)))
    assert s["count"] == 100 and s["max_ms"] == 100 and s["p50_ms"] == pytest.approx(50.5)
    assert miss_rate([1, 2, 40, 50], 33.3) == 0.5
    run = {"nfe": 1, "guidance": True, "sessions": 1, "miss_rate": 0.5,
           "stages": {"step_total": {"count": 4, "p50_ms": 21.0, "p99_ms": 49.7}}}
    ok, line = verdict({"runs": [run]}, budget_ms=33.3, max_miss_rate=None)
    assert not ok and "p99 49.70 ms > budget 33.30 ms" in line
    ok, _ = verdict({"runs": [run]}, budget_ms=50.0, max_miss_rate=0.5)
    assert ok
    new = {"runs": [{**run, "stages": {"step_total": {"count": 4, "p50_ms": 10.0, "p99_ms": 24.85}}}]}
    rows = compare_reports(new, {"runs": [run]})
    assert rows[0]["p99_ratio"] == pytest.approx(0.5)


def test_sampler_flags_are_timed_reported_and_keep_runs_apart_in_compare(tmp_path, report_dir):
    proc, out = _run(tmp_path, "--history-guidance", "0.5", "--noise-correlation", "0.25")
    run = json.loads((out / "bench.json").read_text())["runs"][0]
    assert run["sampler"] == {"noise_correlation": 0.25, "feedback_noise": 0.0, "history_guidance": 0.5}
    assert run["spec"]["sampler_options"] == {"history_guidance": 0.5, "noise_correlation": 0.25}
    assert "sessions=1 history_guidance=0.5 noise_correlation=0.25  budget" in proc.stdout
    plain = json.loads((report_dir[1] / "bench.json").read_text())["runs"][0]
    assert plain["sampler"] == {"noise_correlation": 0.0, "feedback_noise": 0.0, "history_guidance": 1.0}
    assert run_key(run) == run_key(plain) + " history_guidance=0.5 noise_correlation=0.25"
    assert compare_reports({"runs": [run]}, {"runs": [plain]}) == []  # not the same configuration
    proc, _ = _run(tmp_path, "--history-guidance", "9", check=False)
    assert proc.returncode == 2 and "history_guidance: expected -4..4, found 9.0" in proc.stderr
