"""A tiny real ViZDoom dataset shared by the data tests (generated once per session)."""

import pytest

from livefoley.models.data.generate import DataConfig, generate_dataset

TINY = DataConfig(seed=3, train_episodes=2, heldout_episodes=1, tics_per_episode=70,
                  train_scenarios=("defend_the_center", "deathmatch"),
                  heldout_scenarios=("freedoom2:MAP21",))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_dataset")
    summary = generate_dataset(root, TINY)
    assert summary["made"] == 3
    return root
