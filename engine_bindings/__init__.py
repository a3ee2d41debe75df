"""livefoley.engine_bindings (see README.md in this folder).

`Host`, `InProcessPipeline` and `AudioCadenceReader` (the Python host API, engine_bindings/host)
are re-exported lazily: `import livefoley.engine_bindings` imports neither torch nor zmq.
"""

_HOST_NAMES = ("Host", "InProcessPipeline", "AudioCadenceReader")


def __getattr__(name: str):
    if name in _HOST_NAMES:
        from . import host

        return getattr(host, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_HOST_NAMES)
