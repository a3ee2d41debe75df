"""Loading DINOv2 weights from local files in Meta's or Hugging Face's format.

What it is: an explicit key table between the names of facebookresearch/dinov2
(`vision_transformer.py`, the names our `DinoVisionTransformer` uses) and the names of the
Hugging Face `Dinov2Model` / `Dinov2WithRegistersModel` safetensors files; converters in
both directions (HF's separate query/key/value are fused into Meta's `qkv` in q, k, v
order); file readers for `.safetensors`, `.pth`/`.pt` (`torch.load(weights_only=True)`, no
pickle code runs) and HF `save_pretrained` directories; and a strict load that raises
`CheckpointError` naming every missing key, unexpected key and shape mismatch.

What it is not: a downloader. Nothing here touches the network; paths are local.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import torch
from torch import nn

from livefoley.protocol.errors import CheckpointError

log = logging.getLogger(__name__)

# Meta name -> HF name, outside the blocks.
TOP_LEVEL_KEYS: tuple[tuple[str, str], ...] = (
    ("cls_token", "embeddings.cls_token"),
    ("mask_token", "embeddings.mask_token"),
    ("pos_embed", "embeddings.position_embeddings"),
    ("register_tokens", "embeddings.register_tokens"),
    ("patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"),
    ("patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"),
    ("norm.weight", "layernorm.weight"),
    ("norm.bias", "layernorm.bias"),
)

# Meta name -> HF name inside block {i} (one-to-one entries).
BLOCK_KEYS: tuple[tuple[str, str], ...] = (
    ("norm1.weight", "norm1.weight"),
    ("norm1.bias", "norm1.bias"),
    ("attn.proj.weight", "attention.output.dense.weight"),
    ("attn.proj.bias", "attention.output.dense.bias"),
    ("ls1.gamma", "layer_scale1.lambda1"),
    ("norm2.weight", "norm2.weight"),
    ("norm2.bias", "norm2.bias"),
    ("mlp.fc1.weight", "mlp.fc1.weight"),
    ("mlp.fc1.bias", "mlp.fc1.bias"),
    ("mlp.fc2.weight", "mlp.fc2.weight"),
    ("mlp.fc2.bias", "mlp.fc2.bias"),
    ("ls2.gamma", "layer_scale2.lambda1"),
)

# Meta's fused qkv <- HF's three projections, concatenated along dim 0 in this order.
QKV_PARTS: tuple[str, ...] = ("attention.attention.query", "attention.attention.key",
                              "attention.attention.value")

# transformers >= 5 names the same tensors q_proj/k_proj/v_proj/o_proj in memory (its
# save_pretrained writes the legacy names above); accept both.
HF_ALIASES: tuple[tuple[str, str], ...] = (
    ("attention.q_proj.", "attention.attention.query."),
    ("attention.k_proj.", "attention.attention.key."),
    ("attention.v_proj.", "attention.attention.value."),
    ("attention.o_proj.", "attention.output.dense."),
)

# Keys that may be absent from a file (HF Dinov2 with use_mask_token=False has none).
OPTIONAL_KEYS: frozenset[str] = frozenset({"mask_token"})

_HF_BLOCK = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")
_META_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
_META_CHUNKED_BLOCK = re.compile(r"^blocks\.\d+\.(\d+)\.(.+)$")


def detect_format(state: Mapping[str, torch.Tensor]) -> str:
    """Return "meta" or "hf" from the key names.

    Raises:
        CheckpointError: neither `cls_token` (Meta) nor `embeddings.cls_token` (HF) is present.
    """
    if "cls_token" in state:
        return "meta"
    if "embeddings.cls_token" in state:
        return "hf"
    raise CheckpointError(f"DINOv2 checkpoint: expected key 'cls_token' (Meta format) or "
                          f"'embeddings.cls_token' (HF format), found keys "
                          f"{sorted(state)[:8]}{' ...' if len(state) > 8 else ''}")


def hf_to_meta(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an HF Dinov2 state dict to Meta names (qkv fused).

    Keys the table does not know are kept under their HF name, so the strict load reports
    them as unexpected. Raises CheckpointError when a block has only part of q, k, v.
    """
    state = _strip_prefix(dict(state), "dinov2.")
    for new, legacy in HF_ALIASES:
        state = {k.replace(new, legacy) if _HF_BLOCK.match(k) else k: v for k, v in state.items()}
    top = {hf: meta for meta, hf in TOP_LEVEL_KEYS}
    block = {hf: meta for meta, hf in BLOCK_KEYS}
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key in top:
            out[top[key]] = value
            continue
        m = _HF_BLOCK.match(key)
        if m is None:
            out[key] = value
            continue
        i, rest = m.groups()
        if rest in block:
            out[f"blocks.{i}.{block[rest]}"] = value
            continue
        part, _, kind = rest.rpartition(".")
        if part in QKV_PARTS and kind in ("weight", "bias"):
            qkv.setdefault((i, kind), {})[part] = value
            continue
        out[key] = value
    for (i, kind), parts in sorted(qkv.items()):
        missing = [f"encoder.layer.{i}.{p}.{kind}" for p in QKV_PARTS if p not in parts]
        if missing:
            raise CheckpointError(f"DINOv2 HF checkpoint: expected query, key and value in "
                                  f"layer {i}, missing {missing}")
        out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([parts[p] for p in QKV_PARTS], dim=0)
    return out


def meta_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Meta DINOv2 state dict to HF `Dinov2Model` names (qkv split in q, k, v)."""
    top = dict(TOP_LEVEL_KEYS)
    block = dict(BLOCK_KEYS)
    out: dict[str, torch.Tensor] = {}
    for key, value in _unchunk(dict(state)).items():
        if key in top:
            out[top[key]] = value
            continue
        m = _META_BLOCK.match(key)
        if m is None:
            out[key] = value
            continue
        i, rest = m.groups()
        if rest in block:
            out[f"encoder.layer.{i}.{block[rest]}"] = value
        elif rest in ("attn.qkv.weight", "attn.qkv.bias"):
            kind = rest.rsplit(".", 1)[1]
            for part, chunk in zip(QKV_PARTS, value.chunk(3, dim=0)):
                out[f"encoder.layer.{i}.{part}.{kind}"] = chunk.clone()
        else:
            out[key] = value
    return out


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Read tensors from a .safetensors file, a .pth/.pt file or an HF model directory.

    Raises:
        CheckpointError: the path does not exist, has an unknown extension, or cannot be read
            (truncated, not a tensor file); the message names the path and the cause.
    """
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.isfile(index):
            return _read_sharded(path, index)
        inner = os.path.join(path, "model.safetensors")
        if not os.path.isfile(inner):
            raise CheckpointError(f"DINOv2 checkpoint directory {path}: expected "
                                  f"model.safetensors or model.safetensors.index.json, found "
                                  f"{sorted(os.listdir(path))}")
        path = inner
    if not os.path.isfile(path):
        raise CheckpointError(f"DINOv2 checkpoint {path}: expected a file, found nothing there")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        elif ext in (".pth", ".pt", ".bin"):
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise CheckpointError(f"DINOv2 checkpoint {path}: expected extension .safetensors, "
                                  f".pth, .pt or .bin, found {ext or 'none'}")
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors/torch raise many types for a bad file
        raise CheckpointError(f"DINOv2 checkpoint {path}: cannot read ({type(exc).__name__}: "
                              f"{exc})") from exc
    if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                  for v in state.values()):
        raise CheckpointError(f"DINOv2 checkpoint {path}: expected a mapping of names to "
                              f"tensors, found {type(state).__name__}")
    return dict(state)


def _read_sharded(directory: str, index_path: str) -> dict[str, torch.Tensor]:
    # HF sharded layout: {"weight_map": {tensor name: shard file name}}.
    import json

    try:
        with open(index_path) as fh:
            weight_map = json.load(fh)["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"DINOv2 checkpoint index {index_path}: expected JSON with a "
                              f"'weight_map', cannot read ({exc})") from exc
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        if os.path.basename(shard) != shard:
            raise CheckpointError(f"DINOv2 checkpoint index {index_path}: expected shard file "
                                  f"names inside {directory}, found {shard!r}")
        state.update(read_state_dict(os.path.join(directory, shard)))
    return state


def load_dinov2_weights(model: nn.Module, path: str, fmt: str = "auto") -> str:
    """Load a local DINOv2 checkpoint into `model` strictly.

    Args:
        model: a `DinoVisionTransformer`.
        path: .safetensors / .pth / .pt file or HF `save_pretrained` directory.
        fmt: "auto" (detect from key names), "meta" or "hf".

    Returns:
        The format that was loaded ("meta" or "hf").

    Raises:
        CheckpointError: unreadable file; format not what `fmt` asks; missing keys, unexpected
            keys, or shape mismatches (all listed, with expected and found shapes).

    Thread-safety: not thread-safe (writes the model's parameters). Real-time safe: no.
    """
    state = read_state_dict(path)
    found = detect_format(state) if fmt == "auto" else _check_format(state, fmt, path)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json")):
        check_hf_config(os.path.join(path, "config.json"), model)
    meta = hf_to_meta(state) if found == "hf" else _unchunk(state)
    load_meta_state_dict(model, meta, where=f"{path} ({found} format)")
    log.info("loaded DINOv2 weights from %s (%s format, %d tensors)", path, found, len(meta))
    return found


def check_hf_config(config_path: str, model: nn.Module) -> None:
    """Compare an HF `config.json` with the model's sizes, including those no shape reveals.

    The number of heads and the MLP activation change the output without changing any
    tensor shape, so a strict state-dict load cannot catch them; the HF config can.

    Raises:
        CheckpointError: a value differs (named, with expected and found), or the file is
            not JSON.
    """
    import json

    try:
        with open(config_path) as fh:
            hf = json.load(fh)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"DINOv2 HF config {config_path}: cannot read ({exc})") from exc
    blocks = list(model.blocks)
    expected = {
        "hidden_size": model.embed_dim,
        "num_hidden_layers": len(blocks),
        "num_attention_heads": blocks[0].attn.num_heads if blocks else None,
        "patch_size": model.patch_px,
        "num_register_tokens": model.n_registers,
        "layer_norm_eps": model.norm.eps,
        "hidden_act": "gelu",
        "use_swiglu_ffn": False,
    }
    defaults = {"num_register_tokens": 0, "hidden_act": "gelu", "use_swiglu_ffn": False,
                "layer_norm_eps": 1e-6}
    wrong = [f"{k}: expected {v!r}, found {hf.get(k, defaults.get(k))!r}"
             for k, v in expected.items() if hf.get(k, defaults.get(k)) != v]
    if wrong:
        raise CheckpointError(f"DINOv2 HF config {config_path} does not fit the model: "
                              + "; ".join(wrong))
    want_aa = hf.get("model_type") == "dinov2_with_registers"
    if model.interpolate_offset or model.interpolate_antialias != want_aa:
        log.warning("%s: model_type %s interpolates positions with antialias=%s and no "
                    "offset; this model uses antialias=%s, offset=%s (outputs differ at input "
                    "sizes other than the pretraining size)", config_path, hf.get("model_type"),
                    want_aa, model.interpolate_antialias, model.interpolate_offset)


def load_meta_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor],
                         where: str = "state dict") -> None:
    """Copy a Meta-named state dict into `model`, refusing any mismatch by name.

    Raises:
        CheckpointError: listing missing keys, unexpected keys and `key: expected shape X,
            found Y` for every shape mismatch.
    """
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state and k not in OPTIONAL_KEYS)
    unexpected = sorted(k for k in state if k not in own)
    mismatched = [f"{k}: expected shape {tuple(own[k].shape)}, found {tuple(v.shape)}"
                  for k, v in sorted(state.items()) if k in own and own[k].shape != v.shape]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("shape mismatches [" + "; ".join(mismatched) + "]")
        raise CheckpointError(f"DINOv2 checkpoint {where} does not fit the model: "
                              + ", ".join(problems))
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)


def _check_format(state: Mapping[str, torch.Tensor], fmt: str, path: str) -> str:
    found = detect_format(state)
    if found != fmt:
        raise CheckpointError(f"DINOv2 checkpoint {path}: expected {fmt} format, found "
                              f"{found} format key names")
    return found


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    # HF task models (e.g. Dinov2ForImageClassification) nest the backbone under "dinov2.".
    if state and all(k.startswith(prefix) for k in state if not k.startswith("classifier.")):
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def _unchunk(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Meta's FSDP block chunks ("blocks.0.3.norm1") name block 3 "blocks.3"; only rename when
    # every block key is chunked, so plain "blocks.3.norm1" is never misread.
    block_keys = [k for k in state if k.startswith("blocks.")]
    if not block_keys or not all(_META_CHUNKED_BLOCK.match(k) for k in block_keys):
        return state
    return {(_META_CHUNKED_BLOCK.sub(r"blocks.\1.\2", k) if k.startswith("blocks.") else k): v
            for k, v in state.items()}
