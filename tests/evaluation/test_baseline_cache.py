"""The baseline cache: a second evaluation on the same clips reads the baselines' and the real
audio's scores instead of computing them, gets the same numbers, and never reads an entry
for other clips, settings or code. A real ViZDoom dataset; nothing mocked."""

import dataclasses
import json
import logging

import numpy as np
import pytest

from livefoley.models.evaluation import baseline_cache
from livefoley.models.evaluation.baseline_cache import BaselineCache, cache_key
from livefoley.models.evaluation.baselines import thumbnail_motion_features
from livefoley.models.evaluation.cli import add_arguments, main
from livefoley.models.evaluation.runner import EvalConfig, evaluate

from .test_runner import _oracle

CFG = EvalConfig(max_seconds=2.0, embeddings=True, examples=0, plots=False)
FAST = EvalConfig(max_seconds=1.0, embeddings=False, examples=0, plots=False)
SYSTEMS = ["oracle0", "silence", "shuffled", "nn_retrieval", "real"]


def _run(dataset, out, cache, cfg=CFG, **kw):
    return evaluate(dataset, out, generate=_oracle(dataset, 0.0), model_name="oracle0", config=cfg,
                    baseline_cache=cache, **kw)


def _same(a, b) -> bool:
    """Equal, NaN included (a silent clip's lag is NaN in both runs)."""
    return json.dumps(a, sort_keys=True, default=float) == json.dumps(b, sort_keys=True, default=float)


def _entry(res):
    return BaselineCache(res["baseline_cache"]["path"].rsplit("/", 1)[0])


def _key(res):
    return res["baseline_cache"]["path"].rsplit("/", 1)[1].removesuffix(".npz")


@pytest.fixture(scope="module")
def first(dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("first")
    return cache, out, _run(dataset, out, cache)


def test_a_second_run_reads_the_cache_and_scores_every_system_alike(dataset, first, tmp_path):
    cache, out1, res1 = first
    assert res1["baseline_cache"]["hit"] is False and (cache / f"{_key(res1)}.npz").exists()
    res2 = _run(dataset, tmp_path / "second", cache)
    assert res2["baseline_cache"] == {**res1["baseline_cache"], "hit": True}
    assert f"read from `{res2['baseline_cache']['path']}`" in (tmp_path / "second" / "report.md").read_text()
    assert "read from" not in (out1 / "report.md").read_text()
    assert res2["systems"] == res1["systems"] == SYSTEMS
    assert _same(res2["per_episode"], res1["per_episode"])
    assert _same(res2["summary"], res1["summary"])
    with np.load(out1 / "embeddings.npz") as a, np.load(tmp_path / "second" / "embeddings.npz") as b:
        assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_the_entry_is_what_the_report_shows(dataset, first, tmp_path):
    cache, _, res1 = first
    store, key = _entry(res1), _key(res1)
    entry = store.load(key)
    assert sorted(entry.per_episode) == sorted(baseline_cache.SYSTEMS)
    assert {n: len(v) for n, v in entry.embeddings.items()} == {n: 2 for n in baseline_cache.SYSTEMS}
    planted = BaselineCache(tmp_path / "planted")
    entry.per_episode["silence"][0]["mr_stft"] = 123.0
    planted.save(key, entry)
    res = _run(dataset, tmp_path / "out", tmp_path / "planted")
    assert res["baseline_cache"]["hit"] is True
    assert res["per_episode"]["silence"][0]["mr_stft"] == 123.0
    assert _same(res["per_episode"]["oracle0"], res1["per_episode"]["oracle0"])  # the model is always scored


@pytest.fixture(scope="module")
def fast(dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("fast-cache")
    return cache, _run(dataset, tmp_path_factory.mktemp("fast"), cache, cfg=FAST)


@pytest.mark.parametrize("change,hit", [
    ({"tolerance_ms": 40.0}, False), ({"max_seconds": 0.5}, False), ({"max_lag_ms": 250.0}, False),
    ({"nn_train_shards": 1}, False),
    ({"examples": 1, "example_seconds": 0.5}, True), ({"seed": 7}, True),
])
def test_only_what_changes_a_score_changes_the_key(dataset, fast, tmp_path, change, hit):
    cache, res1 = fast
    res = _run(dataset, tmp_path, cache, cfg=dataclasses.replace(FAST, **change))
    assert res["baseline_cache"]["hit"] is hit
    assert (_key(res) == _key(res1)) is hit


def test_without_a_cache_the_numbers_are_the_same_and_nothing_is_kept(dataset, fast, tmp_path):
    _, res1 = fast
    res = _run(dataset, tmp_path / "out", None, cfg=FAST)
    assert res["baseline_cache"] is None and _same(res["per_episode"], res1["per_episode"])


def test_one_changed_sample_or_a_changed_training_set_is_a_new_key(tmp_path):
    clips = [{"name": "a", "fps": 35.0, "frames": np.zeros((4, 8, 8, 3), np.uint8),
              "real": np.zeros((3200, 2), np.float32)}]
    shard = tmp_path / "train-00000"
    shard.mkdir()
    (shard / "audio.npy").write_bytes(b"x" * 10)
    key = cache_key(clips, [shard], CFG, "f")
    louder = [{**clips[0], "real": clips[0]["real"].copy()}]
    louder[0]["real"][100, 1] = 1e-6
    assert cache_key(louder, [shard], CFG, "f") != key
    brighter = [{**clips[0], "frames": clips[0]["frames"].copy()}]
    brighter[0]["frames"][3, 7, 7, 2] = 1
    assert cache_key(brighter, [shard], CFG, "f") != key
    assert cache_key(clips, [], CFG, "f") != key
    assert cache_key(clips, [shard], CFG, "g") != key
    assert cache_key(clips, [shard], dataclasses.replace(CFG, embeddings=False), "f") != key
    (shard / "audio.npy").write_bytes(b"x" * 11)
    assert cache_key(clips, [shard], CFG, "f") != key


def test_an_unreadable_entry_is_recomputed_and_replaced(dataset, fast, tmp_path, caplog):
    _, res1 = fast
    store = BaselineCache(tmp_path / "cache")
    store.root.mkdir()
    store.path(_key(res1)).write_bytes(b"not an npz file")
    with caplog.at_level(logging.WARNING):
        res = _run(dataset, tmp_path / "out", store.root, cfg=FAST)
    assert "unreadable (" in caplog.text and "recomputing" in caplog.text
    assert res["baseline_cache"]["hit"] is False and _same(res["summary"], res1["summary"])
    assert store.load(_key(res1)) is not None


def test_an_unwritable_cache_warns_and_the_run_completes(dataset, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with caplog.at_level(logging.WARNING):
        res = _run(dataset, tmp_path / "out", blocker / "cache", cfg=FAST)
    assert "not written" in caplog.text and res["summary"]["real"]["onset_f"] == 1.0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["baseline_cache"]["hit"] is False


def test_a_feature_without_a_stable_name_turns_the_cache_off(dataset, tmp_path):
    res = _run(dataset, tmp_path / "out", tmp_path / "cache", cfg=FAST,
               feature_fn=lambda frames: thumbnail_motion_features(frames))
    assert res["baseline_cache"] is None and not (tmp_path / "cache").exists()
    assert baseline_cache.feature_name(thumbnail_motion_features) == (
        "livefoley.models.evaluation.baselines.thumbnail_motion_features")


def test_the_cli_keeps_the_cache_in_the_dataset_unless_told_otherwise(dataset, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = ["--data", str(dataset), "--seconds", "0.5", "--no-fd", "--examples", "0", "--no-plots"]
    assert main(parser.parse_args([*common, "--out", str(tmp_path / "a")])) == 0
    recorded = json.loads((tmp_path / "a" / "results.json").read_text())["baseline_cache"]
    assert recorded["path"].startswith(str(dataset / "eval-cache") + "/")
    assert main(parser.parse_args([*common, "--out", str(tmp_path / "b"), "--no-baseline-cache"])) == 0
    assert json.loads((tmp_path / "b" / "results.json").read_text())["baseline_cache"] is None
    assert main(parser.parse_args([*common, "--out", str(tmp_path / "c"),
                                   "--baseline-cache", str(tmp_path / "mine")])) == 0
    assert json.loads((tmp_path / "c" / "results.json").read_text())["baseline_cache"]["path"].startswith(
        str(tmp_path / "mine") + "/")
    with pytest.raises(SystemExit):
        parser.parse_args([*common, "--out", "d", "--baseline-cache", "x", "--no-baseline-cache"])
    assert "not allowed with argument --baseline-cache" in capsys.readouterr().err
