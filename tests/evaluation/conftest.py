"""The evaluation tests' shared ViZDoom dataset (made once per test session)."""

import pytest

from livefoley.models.data.generate import DataConfig, generate_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """Two training and two held-out episodes of 3 s (maps unseen in training held out)."""
    root = tmp_path_factory.mktemp("eval_dataset")
    cfg = DataConfig(seed=5, train_episodes=2, heldout_episodes=2, tics_per_episode=105,
                     train_scenarios=("defend_the_center", "deathmatch"),
                     heldout_scenarios=("freedoom2:MAP21", "freedoom1:E2M1"), agents=("aggressive",))
    generate_dataset(root, cfg)
    return root
