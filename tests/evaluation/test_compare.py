"""Paired bootstrap of two eval runs: known answers on hand-built per-clip scores."""

import argparse
import json
import math

import numpy as np
import pytest

from livefoley.models.evaluation import compare_cli
from livefoley.models.evaluation.compare import compare_runs, load_results
from livefoley.protocol.errors import ConfigError


def _clip(matches=5, n_ref=10, n_est=10, lag=5.0, corr=0.3, mr=3.0, mel=2.0, ild=0.0):
    return {"onset_matches": matches, "onset_n_ref": n_ref, "onset_n_est": n_est,
            "lag_ms": lag, "lag_peak_corr": corr, "mr_stft": mr, "log_mel_l1": mel,
            "ild_corr": ild}


def _run(clips, fd=400.0, names=None):
    names = names or [f"heldout-{i:05d}" for i in range(len(clips))]
    return {"episodes": [{"name": n, "seconds": 20.0} for n in names],
            "per_episode": {"model": clips}, "summary": {"model": {"fd_aisfx": fd}}}


def _by_name(rows):
    return {r.name: r for r in rows}


def test_identical_runs_differ_by_nothing():
    run = _run([_clip(mr=2.0 + i) for i in range(8)])
    rows = compare_runs(run, run, n_boot=200)
    for r in rows[:-1]:
        assert r.diff == 0.0 and r.low == r.high == 0.0 and r.verdict == "within noise", r
    assert rows[-1].name == "fd_aisfx" and rows[-1].verdict == "no interval"


def test_a_consistent_improvement_is_better_and_a_consistent_loss_worse():
    base = _run([_clip(mr=2.0 + i, matches=4) for i in range(8)])
    new = _run([_clip(mr=1.5 + i, matches=6, mel=2.5) for i in range(8)], fd=300.0)
    rows = _by_name(compare_runs(base, new, n_boot=500))
    assert rows["mr_stft"].verdict == "better"
    assert rows["mr_stft"].low == pytest.approx(-0.5) and rows["mr_stft"].high == pytest.approx(-0.5)
    assert rows["onset_f"].verdict == "better" and rows["onset_f"].diff == pytest.approx(0.2)
    assert rows["log_mel_l1"].verdict == "worse" and rows["log_mel_l1"].diff == pytest.approx(0.5)
    assert rows["fd_aisfx"].diff == -100.0 and math.isnan(rows["fd_aisfx"].low)


def test_mixed_signs_across_clips_are_within_noise():
    base = _run([_clip(mr=3.0) for _ in range(8)])
    new = _run([_clip(mr=3.0 + (0.5 if i % 2 else -0.6)) for i in range(8)])
    row = _by_name(compare_runs(base, new, n_boot=1000))["mr_stft"]
    assert row.low < 0.0 < row.high and row.verdict == "within noise"


def test_runs_on_different_clips_are_refused():
    a = _run([_clip()] * 2)
    b = _run([_clip()] * 2, names=["heldout-00000", "heldout-00009"])
    with pytest.raises(ConfigError, match="expected both runs on the same clips"):
        compare_runs(a, b)


def test_missing_and_malformed_results_are_named(tmp_path):
    with pytest.raises(ConfigError, match="expected a results.json"):
        load_results(tmp_path / "nowhere")
    (tmp_path / "results.json").write_text(json.dumps({"summary": {}}))
    with pytest.raises(ConfigError, match=r"expected the keys 'episodes' and 'per_episode'.*"
                                          r"found \['summary'\]"):
        load_results(tmp_path)


def test_cli_gate_fails_only_when_worse(tmp_path, capsys):
    base, worse = tmp_path / "base", tmp_path / "worse"
    base.mkdir(), worse.mkdir()
    (base / "results.json").write_text(json.dumps(_run([_clip(mr=2.0 + i) for i in range(6)])))
    (worse / "results.json").write_text(json.dumps(_run([_clip(mr=2.4 + i) for i in range(6)])))
    parser = argparse.ArgumentParser()
    compare_cli.add_arguments(parser)
    assert compare_cli.main(parser.parse_args([str(base), str(worse), "--fail-if-worse"])) == 1
    assert "worse on ['mr_stft']" in capsys.readouterr().out
    assert compare_cli.main(parser.parse_args([str(base), str(base), "--fail-if-worse"])) == 0
    assert compare_cli.main(parser.parse_args([str(base), str(worse)])) == 0  # no gate asked


def test_livefoley_command_reports_bad_input_as_a_named_error(tmp_path, capsys):
    from livefoley.sidecar.cli import main

    assert main(["eval-compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "livefoley eval-compare: eval results" in capsys.readouterr().err


def _embedded(run, model_shift, real, seed):
    """Per-clip embeddings: the real clips, and a 'model' whose embeddings are the real ones
    moved by `model_shift` plus a little noise (its FD to real grows with the shift)."""
    rng = np.random.default_rng(seed)
    run["embeddings"] = {f"real/{i}": r for i, r in enumerate(real)}
    run["embeddings"].update({f"model/{i}": r + model_shift + 0.05 * rng.standard_normal(r.shape)
                              for i, r in enumerate(real)})
    return run


def _real_clips(n=8, rows=12, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((rows, dim)) + 0.3 * i for i in range(n)]


def test_fd_gets_an_interval_from_stored_embeddings():
    real = _real_clips()
    clips = [_clip() for _ in real]
    base = _embedded(_run(clips), 1.0, real, seed=1)
    closer = _embedded(_run(clips), 0.2, real, seed=2)
    row = _by_name(compare_runs(base, closer, n_boot=100, fd_boot=50))["fd_aisfx"]
    assert row.low <= row.high < 0.0 and row.verdict == "better"
    same = _embedded(_run(clips), 1.0, real, seed=1)
    row = _by_name(compare_runs(base, same, n_boot=100, fd_boot=50))["fd_aisfx"]
    assert row.low == row.high == 0.0 and row.verdict == "within noise"


def test_fd_interval_refuses_runs_that_embedded_different_real_audio():
    real = _real_clips()
    clips = [_clip() for _ in real]
    base = _embedded(_run(clips), 1.0, real, seed=1)
    other = _embedded(_run(clips), 1.0, [r + 1.0 for r in real], seed=1)
    with pytest.raises(ConfigError, match="expected both runs to embed the same real audio"):
        compare_runs(base, other, n_boot=10, fd_boot=5)


def test_load_results_reads_the_embeddings_beside_results(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(_run([_clip()] * 2)))
    np.savez_compressed(tmp_path / "embeddings.npz", **{"model/0": np.ones((3, 4))})
    run = load_results(tmp_path)
    assert run["embeddings"]["model/0"].shape == (3, 4)
