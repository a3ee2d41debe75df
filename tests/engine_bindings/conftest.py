"""Fixtures of the engine-binding tests: one build of liblivefoley per variant per run."""

from __future__ import annotations

import pytest

from tests.engine_bindings import cbuild


@pytest.fixture(scope="session")
def lf_build(tmp_path_factory):
    """`lf_build("asan")` -> a cbuild.Build, compiled once per test session."""
    builds: dict[str, cbuild.Build] = {}
    root = tmp_path_factory.mktemp("liblivefoley")

    def get(variant: str) -> cbuild.Build:
        if variant not in builds:
            builds[variant] = cbuild.Build(root, variant)
        return builds[variant]

    return get
