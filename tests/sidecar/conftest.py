"""Sidecar-suite fixtures: run torch on one thread, as `livefoley serve` does by default.

On a 2-core machine shared with other processes, two intra-op threads per step make a tiny
model step 5-20x slower (measured: p50 45 ms on one thread vs 208 ms on two under load).
"""

import pytest

from livefoley.protocol import SessionParams, create_session


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_session(session_name):
    """Create host-side sessions named after the test (closed and unlinked afterwards).

    `make_session(suffix="", **params)`: SessionParams fields override the defaults below
    (frames up to 40x32 RGBA, a 16384-frame ring), and the host heartbeat is beaten once.
    """
    made = []

    def make(suffix="", **kw):
        params = SessionParams(**{"max_frame_bytes": 40 * 32 * 4, "ring_capacity_frames": 16384, **kw})
        s = create_session(session_name + suffix, params)
        s.beat("host")
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
