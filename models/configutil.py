"""Strict dict <-> frozen-dataclass conversion shared by the model configs.

What it is: one `from_dict` that refuses unknown keys and wrong types, naming the key, the
expected type and the value found; one `to_dict` that turns nested dataclasses and tuples into
JSON-ready dicts and lists, so that `from_dict(to_dict(c)) == c`.

What it is not: a configurator. There is no global config and no string evaluation.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from collections.abc import Mapping
from typing import Any

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a (nested) frozen config dataclass.

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = value.to_dict() if hasattr(value, "to_dict") else to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build the dataclass `cls` from `data`, refusing unknown keys and wrong types.

    Missing keys take the field's default. Nested dataclass fields are built with the nested
    class's own `from_dict` when it has one.

    Args:
        cls: a frozen dataclass type.
        data: a mapping (parsed JSON).
        where: a location for messages, e.g. "ModelConfig.transformer".

    Returns:
        An instance of `cls`.

    Raises:
        ConfigError: `data` is not a mapping, has an unknown key, or a value of the wrong type.
            The message names the key, the expected type and the value found.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, found {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; "
                          f"expected keys among {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if hasattr(hint, "from_dict"):
            return hint.from_dict(value)
        return from_dict(hint, value, where)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, found {type(value).__name__} {value!r}")
        elem = args[0] if args else Any
        return tuple(_coerce(elem, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {hint}, found {type(value).__name__} {value!r}")
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, found {value!r}")
        return None
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where}: expected one of {list(allowed)}, found {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected bool, found {type(value).__name__} {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected int, found {type(value).__name__} {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected float, found {type(value).__name__} {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected str, found {type(value).__name__} {value!r}")
        return value
    return value
