"""`livefoley eval` through the real dispatcher: baselines only, and with the tiny preset."""

import json

import pytest

from livefoley.models.data.generate import DataConfig, generate_dataset
from livefoley.sidecar.cli import main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_dataset")
    generate_dataset(root, DataConfig(seed=2, train_episodes=1, heldout_episodes=1,
                                      tics_per_episode=40,
                                      train_scenarios=("defend_the_center",),
                                      heldout_scenarios=("freedoom2:MAP22",)))
    return root


def test_eval_baselines_only(dataset, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(dataset), "--out", str(out), "--no-fd",
                 "--no-plots", "--examples", "0", "--seconds", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| metric | better | silence | shuffled | nn_retrieval | real (ref) |" in printed
    res = json.loads((out / "results.json").read_text())
    assert res["model_name"] is None and res["summary"]["real"]["onset_f"] == 1.0
    assert "## Per clip" in (out / "report.md").read_text()
    assert not (out / "metrics.png").exists()


def test_eval_with_the_tiny_preset(dataset, tmp_path, capsys):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(dataset), "--out", str(out), "--model", "tiny",
                 "--no-fd", "--no-plots", "--examples", "0", "--seconds", "1"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["model_name"] == "model" and res["model_info"]["checkpoint"] == "tiny"
    assert res["model_info"]["sample_rate_hz"] == 48000
    assert res["per_episode"]["model"][0]["mr_stft"] > 0  # random weights: not the real audio


def test_eval_with_the_heun_sampler_records_it(dataset, tmp_path):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(dataset), "--out", str(out), "--model", "tiny",
                 "--sampler", "heun", "--heun-steps", "2", "--no-fd", "--no-plots",
                 "--examples", "0", "--seconds", "1"]) == 0
    info = json.loads((out / "results.json").read_text())["model_info"]
    assert (info["sampler"], info["heun_steps"]) == ("heun", 2)


def test_teacher_forced_scores_next_to_the_free_run(dataset, tmp_path, capsys):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(dataset), "--out", str(out), "--model", "tiny",
                 "--teacher-forced", "--no-fd", "--no-plots", "--examples", "0",
                 "--seconds", "1"]) == 0
    assert "teacher-forced (real previous latents): onset F" in capsys.readouterr().out
    tf = json.loads((out / "teacher_forced.json").read_text())
    assert tf["nfe"] == 1 and tf["guidance_scale"] == 3.0 and len(tf["per_episode"]) == 1
    assert tf["per_episode"][0]["mr_stft"] > 0  # random weights: not the real audio


def test_teacher_forced_needs_heldout_shards(tmp_path):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    from livefoley.models.evaluation.teacher_forced import teacher_forced_scores
    from livefoley.protocol.errors import ConfigError

    with pytest.raises(ConfigError, match="expected held-out shards, found none"):
        teacher_forced_scores(tmp_path, "tiny")


def test_vae_round_trip_scores_the_real_audio_through_the_vae(dataset, tmp_path, capsys):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(dataset), "--out", str(out), "--model", "tiny",
                 "--vae-round-trip", "--no-fd", "--no-plots", "--examples", "0",
                 "--seconds", "1"]) == 0
    assert "VAE round trip (the real audio's latents): onset F" in capsys.readouterr().out
    rt = json.loads((out / "vae_round_trip.json").read_text())
    free = json.loads((out / "results.json").read_text())["per_episode"]["model"][0]
    assert rt["model"] == "tiny" and len(rt["per_episode"]) == 1
    # The round trip decodes the real audio's own latents, not the generator's: other audio.
    assert rt["per_episode"][0]["mr_stft"] != free["mr_stft"]
    assert rt["per_episode"][0]["mr_stft"] > 0  # random weights: not the real audio


def test_vae_round_trip_needs_heldout_shards(tmp_path):
    pytest.importorskip("livefoley.models.generator", reason="the models part provides it")
    from livefoley.models.evaluation.round_trip import vae_round_trip_scores
    from livefoley.protocol.errors import ConfigError

    with pytest.raises(ConfigError,
                       match="VAE round trip .*: expected held-out shards, found none"):
        vae_round_trip_scores(tmp_path, "tiny")
