"""Fixtures of the models tests (small configs: see helpers.py)."""

import pytest
import torch

from livefoley.models import build_model

from .helpers import small_config


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # These models are tiny: intra-op threads only add OpenMP hand-offs, which turn into
    # 10x slowdowns when the 2 cores are shared with other processes.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cfg():
    return small_config()


@pytest.fixture
def model(cfg):
    return build_model(cfg)
