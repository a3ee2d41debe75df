"""Suite-wide fixtures and markers. `gpu` tests skip with a reason where CUDA is absent."""

import os

import pytest


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if any("gpu" in item.keywords for item in items) and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA device; none is present on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def session_name(request):
    """A shared-memory session name unique to this test and process."""
    return f"lf-test-{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}"
