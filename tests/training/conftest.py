"""Fixtures shared by the training tests."""

import pytest

from livefoley.models.checkpoint import save_checkpoint
from livefoley.models.v2a import build_model

from .helpers import small_config, write_flash_click_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """(root, init): a two-train, one-held-out flash-and-click dataset of 2 s shards and a
    small seeded model's checkpoint."""
    root = tmp_path_factory.mktemp("data")
    write_flash_click_dataset(root, train=2, heldout=1, seconds=2.0)
    init = root / "init.safetensors"
    save_checkpoint(build_model(small_config()), init)
    return root, init
