"""Sidecar-suite fixtures: run torch on one thread, as `livefoley serve` does by default.

On a 2-core machine shared with other processes, two intra-op threads per step make a tiny
model step 5-20x slower (measured: p50 45 ms on one thread vs 208 ms on two under load).
"""

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
