"""Dependency direction (STYLE.md): protocol <- models <- sidecar; engine_bindings <- protocol."""

import subprocess
import sys

import pytest


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("forbidden", ["torch", "zmq"])
def test_protocol_import_pulls_in_neither_torch_nor_zmq(forbidden):
    loaded = _modules_after_import("livefoley.protocol")
    assert "livefoley.protocol" in loaded
    assert forbidden not in loaded, f"importing livefoley.protocol loaded {forbidden}"


def test_engine_bindings_do_not_import_torch():
    loaded = _modules_after_import("livefoley.engine_bindings")
    assert "torch" not in loaded


def test_models_do_not_import_zmq_or_sidecar():
    loaded = _modules_after_import("livefoley.models")
    assert "zmq" not in loaded
    assert not any(m.startswith("livefoley.sidecar") for m in loaded)


def test_parts_install_under_livefoley_namespace():
    import importlib.util

    for generic in ("protocol", "models", "sidecar", "engine_bindings"):
        spec = importlib.util.find_spec(generic)
        # Running from the repo root puts the folder on sys.path; the installed name must be
        # the namespaced one, so check the namespaced one resolves to the same folder.
        namespaced = importlib.util.find_spec(f"livefoley.{generic}")
        assert namespaced is not None, f"livefoley.{generic} is not importable"
        if spec is not None:
            assert spec.origin == namespaced.origin
