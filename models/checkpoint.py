"""Checkpoints of the V2A model: one safetensors file that describes itself.

What it is: `save_checkpoint` writes every tensor of a V2AModel to a safetensors file whose
metadata holds the format name, the schema version and the ModelConfig as JSON.
`load_checkpoint` checks, in order, that the file exists, is complete (the header's data
offsets fit the file size), is of this format and of a schema this code knows, that its config
parses and (when the caller names one) equals the expected config, and that the tensors are
exactly those of the model the config builds, with the same shapes. Each failure is a
`CheckpointError` naming the file, what was expected and what was found.

What it is not: pickle. Nothing executes code from a weights file. Vision weights travel inside
the file, so the saved config's `vision.checkpoint_path` is cleared.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from livefoley.models.config import PRESET_NAMES, ModelConfig, get_preset
from livefoley.models.history_guidance import HISTORY_GUIDANCE_LIMIT
from livefoley.models.noise_options import FEEDBACK_NOISE_LIMIT
from livefoley.models.sampling import MAX_CONSISTENCY_NFE
from livefoley.models.stagetime import check_device
from livefoley.models.v2a import V2AModel, build_model
from livefoley.protocol.errors import CheckpointError, LiveFoleyError

log = logging.getLogger(__name__)

FORMAT_NAME = "livefoley.v2a"
SCHEMA_VERSION = 1
# Sampling defaults a checkpoint may carry (metadata "sampling", JSON): the CFG scale, the
# consistency NFE and the noise options (`generator.StreamingGenerator.set_options`) chosen for
# it on validation data. Readers use them when given no value.
SAMPLING_KEYS = ("guidance_scale", "nfe", "noise_correlation", "feedback_noise",
                 "history_guidance")


def save_checkpoint(model: V2AModel, path: str | os.PathLike, *, only: str = "") -> None:
    """Write `model`'s tensors and config to `path` (safetensors).

    Args:
        only: a top-level part (e.g. "vae") to write alone: a partial file for
            `load_vae_into`, which `load_checkpoint` refuses by name.

    Thread-safety: do not step the model concurrently. Real-time safe: no.
    """
    cfg = model.config
    cfg = dataclasses.replace(cfg, vision=dataclasses.replace(cfg.vision, checkpoint_path=""))
    meta = {"format": FORMAT_NAME, "schema_version": str(SCHEMA_VERSION),
            "config": json.dumps(cfg.to_dict(), sort_keys=True)}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()
               if not only or k.startswith(only + ".")}
    if only:
        meta["only"] = only
    if model.sampling_defaults:
        meta["sampling"] = json.dumps(model.sampling_defaults, sort_keys=True)
    save_file(tensors, os.fspath(path), metadata=meta)
    log.info("saved checkpoint %s (%d tensors)", path, len(tensors))


def _check_complete(path: Path) -> None:
    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(f"checkpoint {path}: truncated: expected at least 8 header bytes, "
                              f"found a file of {size} bytes")
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if 8 + n > size:
            raise CheckpointError(f"checkpoint {path}: truncated: expected a {n}-byte header, "
                                  f"found {size - 8} bytes after the length")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"checkpoint {path}: expected a JSON safetensors header, "
                                  f"found unparseable bytes ({e})") from e
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                  default=0)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: expected a safetensors header mapping names "
                              f"to dtype/shape/data_offsets, found {type(header).__name__} "
                              f"that does not ({e!r})") from e
    if 8 + n + end != size:
        raise CheckpointError(f"checkpoint {path}: truncated or padded: expected "
                              f"{8 + n + end} bytes per its header, found {size}")


def _diff_configs(expected: dict[str, Any], found: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(expected) | set(found)):
        a, b = expected.get(key, "<absent>"), found.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff_configs(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: expected {a!r}, found {b!r}")
    return out


def _read_metadata(path: Path) -> dict[str, str]:
    """The safetensors metadata of a checkpoint, after the completeness and schema checks."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: expected a file, found none")
    _check_complete(path)
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"checkpoint {path}: expected a safetensors file, found {e}") from e
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError(f"checkpoint {path}: expected format {FORMAT_NAME!r}, "
                              f"found {meta.get('format')!r}")
    try:
        schema = int(meta.get("schema_version", ""))
    except ValueError:
        raise CheckpointError(f"checkpoint {path}: expected an integer schema_version, "
                              f"found {meta.get('schema_version')!r}") from None
    if schema > SCHEMA_VERSION:
        raise CheckpointError(f"checkpoint {path}: expected schema version <= {SCHEMA_VERSION}, "
                              f"found {schema} (written by a newer LiveFoley)")
    if schema < 1:
        raise CheckpointError(f"checkpoint {path}: expected schema version >= 1, found {schema}")
    return meta


def read_checkpoint_config(path: str | os.PathLike) -> ModelConfig:
    """The ModelConfig stored in a checkpoint (after the completeness and schema checks).

    Raises:
        CheckpointError: missing, truncated, foreign format, future schema, bad config.
    """
    path = Path(path)
    return _config_from_metadata(path, _read_metadata(path))


def _config_from_metadata(path: Path, meta: dict[str, str]) -> ModelConfig:
    try:
        return ModelConfig.from_dict(json.loads(meta.get("config", "")))
    except (json.JSONDecodeError, LiveFoleyError) as e:
        raise CheckpointError(f"checkpoint {path}: expected a valid ModelConfig, found: {e}") from e


def _parse_sampling(path: Path, text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {path}: expected sampling defaults as JSON, "
                              f"found {text!r} ({e})") from e
    if not isinstance(found, dict):
        raise CheckpointError(f"checkpoint {path}: expected sampling defaults as a JSON object, "
                              f"found {found!r}")
    return check_sampling_defaults(found, where=f"checkpoint {path}")


def check_sampling_defaults(values: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Validate sampling defaults: "guidance_scale" a finite number >= 1, "nfe" an integer in
    1..MAX_CONSISTENCY_NFE, "noise_correlation" a number in [0, 1], "feedback_noise" a number
    in [0, 10), "history_guidance" a number in [-4, 4] (the generator's `set_options`; whether
    the model can use it is the generator's check); numbers are returned as float, nfe as int.

    Raises:
        CheckpointError: an unknown key or a value out of range, named with `where`.
    """
    ranges = {"guidance_scale": (">= 1", lambda v: v >= 1.0),
              "noise_correlation": ("in [0, 1]", lambda v: 0.0 <= v <= 1.0),
              "feedback_noise": (f"in [0, {FEEDBACK_NOISE_LIMIT:g})",
                                 lambda v: 0.0 <= v < FEEDBACK_NOISE_LIMIT),
              "history_guidance": (f"in [{-HISTORY_GUIDANCE_LIMIT:g}, {HISTORY_GUIDANCE_LIMIT:g}]",
                                   lambda v: abs(v) <= HISTORY_GUIDANCE_LIMIT)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in SAMPLING_KEYS:
            raise CheckpointError(f"{where}: sampling default {key!r}: expected one of "
                                  f"{list(SAMPLING_KEYS)}")
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if key == "nfe":
            if not (number and float(value).is_integer()
                    and 1 <= value <= MAX_CONSISTENCY_NFE):
                raise CheckpointError(f"{where}: sampling default nfe: expected an integer in "
                                      f"1..{MAX_CONSISTENCY_NFE}, found {value!r}")
            out[key] = int(value)
        else:
            text, ok = ranges[key]
            if not (number and math.isfinite(value) and ok(value)):
                raise CheckpointError(f"{where}: sampling default {key}: expected a finite "
                                      f"number {text}, found {value!r}")
            out[key] = float(value)
    return out


def read_sampling_defaults(path: str | os.PathLike) -> dict[str, Any]:
    """How the checkpoint's trainer recommends sampling it ({} when it does not say).

    Raises:
        CheckpointError: see `read_checkpoint_config`; malformed sampling defaults.
    """
    path = Path(path)
    return _parse_sampling(path, _read_metadata(path).get("sampling", "{}"))


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu",
                    config: ModelConfig | None = None) -> V2AModel:
    """Load a V2AModel from a checkpoint written by `save_checkpoint`.

    Args:
        path: the safetensors file.
        device: where to put the model.
        config: if given, the checkpoint's config must equal it (vision checkpoint path aside).

    Returns:
        The model in eval mode on `device`.

    Raises:
        CheckpointError: see the module docstring; the message names the mismatch.

    Thread-safety: any thread. Real-time safe: no.
    """
    path = Path(path)
    meta = _read_metadata(path)  # read once: config, partial-file marker, sampling defaults
    found_cfg = _config_from_metadata(path, meta)
    if config is not None:
        want = dataclasses.replace(config, vision=dataclasses.replace(config.vision,
                                                                      checkpoint_path=""))
        diffs = _diff_configs(want.to_dict(), found_cfg.to_dict())
        if diffs:
            raise CheckpointError(f"checkpoint {path}: config mismatch: " + "; ".join(diffs))
    model = build_model(found_cfg)
    expected = model.state_dict()
    if meta.get("only"):
        raise CheckpointError(f"checkpoint {path}: expected a whole model, found only its "
                              f"{meta['only']!r} part (use it with `train --vae-from`)")
    with safe_open(os.fspath(path), framework="pt") as f:
        keys = set(f.keys())
        missing = sorted(set(expected) - keys)
        extra = sorted(keys - set(expected))
        if missing:
            raise CheckpointError(f"checkpoint {path}: missing tensors {missing[:8]}"
                                  f"{' ...' if len(missing) > 8 else ''} ({len(missing)} of "
                                  f"{len(expected)} expected)")
        if extra:
            raise CheckpointError(f"checkpoint {path}: unexpected tensors {extra[:8]}"
                                  f"{' ...' if len(extra) > 8 else ''} (not in the model)")
        state = {}
        for k in sorted(keys):
            t = f.get_tensor(k)
            if tuple(t.shape) != tuple(expected[k].shape):
                raise CheckpointError(f"checkpoint {path}: tensor {k}: expected shape "
                                      f"{tuple(expected[k].shape)}, found {tuple(t.shape)}")
            if t.dtype.is_floating_point != expected[k].dtype.is_floating_point:
                raise CheckpointError(f"checkpoint {path}: tensor {k}: expected dtype "
                                      f"{expected[k].dtype} (or another of its kind), "
                                      f"found {t.dtype}")
            state[k] = t
    model.load_state_dict(state, strict=True)
    model.sampling_defaults = _parse_sampling(path, meta.get("sampling", "{}"))
    log.info("loaded checkpoint %s", path)
    return model.to(device).eval()


def load_vae_into(model: V2AModel, path: str | os.PathLike) -> None:
    """Replace `model`'s VAE by the one in `path` (a whole checkpoint or a VAE-only file); the
    latent scale is folded into the VAE's weights, so it travels with them.

    Raises:
        CheckpointError: the file fails `read_checkpoint_config`'s checks, its VAE config
            differs from the model's (each differing field named), or its VAE tensors do not
            match the model's.

    Thread-safety: do not step the model concurrently. Real-time safe: no.
    """
    diffs = _diff_configs(model.config.vae.to_dict(), read_checkpoint_config(path).vae.to_dict())
    if diffs:
        raise CheckpointError(f"checkpoint {path}: VAE config differs from the model's: "
                              + "; ".join(diffs))
    with safe_open(os.fspath(path), framework="pt") as f:
        state = {k[len("vae."):]: f.get_tensor(k) for k in f.keys() if k.startswith("vae.")}
    try:
        model.vae.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path}: expected the model's VAE tensors, found "
                              f"others: {e}") from e
    log.info("took the VAE from %s", path)


def load_model(path_or_preset: str, device: str | torch.device = "cpu") -> V2AModel:
    """A preset name ("tiny", "sr": random weights from the preset's seed) or a checkpoint path.

    Raises:
        CheckpointError: not a preset and not a loadable checkpoint.
        DeviceError: `device` is a CUDA device and CUDA is absent.

    Thread-safety: any thread. Real-time safe: no.
    """
    check_device(device)
    if path_or_preset in PRESET_NAMES:
        return build_model(get_preset(path_or_preset)).to(device).eval()
    if not Path(path_or_preset).exists():
        raise CheckpointError(f"model {path_or_preset!r}: expected a preset "
                              f"({', '.join(PRESET_NAMES)}) or an existing checkpoint file, "
                              f"found neither")
    return load_checkpoint(path_or_preset, device)
