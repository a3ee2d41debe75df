"""Fixtures for the protocol tests: compiled C programs and a params factory."""

import pytest

from .cbuild import build


@pytest.fixture(scope="session")
def c_program(tmp_path_factory):
    """build(program, sanitize=None) -> path of the compiled tests/protocol/c/<program>.c."""
    out_dir = tmp_path_factory.mktemp("cbin")

    def _build(program: str, sanitize: str | None = None, **kwargs):
        return build(out_dir, program, sanitize=sanitize, **kwargs)

    return _build
