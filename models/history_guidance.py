"""History guidance: how much the generator's own past audio steers its next frame.

What it is: the range check and the combination of the streaming generator's `history_guidance`
option, after history-guided video diffusion (Song et al. 2025, arXiv 2502.06764). Beside the
cond rows (frames + the fed-back latents) the transformer runs a group of no-history rows:
the same frames, BOS at every audio position ("no audio yet"), the path a model learns with
history dropout (`train --history-dropout`). With history scale w_h, on both halves of the
head's condition z_i = [h(x_{i-1}), h(v_i)]:

    z = guided + (w_h - 1) (cond - nohist)

where `guided` is the cond output (audio half) or the CFG-guided one (vision half). w_h = 1
is the plain generator (and then the rows do not run); w_h < 1 lets the history weigh less
(a generator that goes quiet when its own quiet history comes back); w_h > 1 more. This is the
simple CFG-style variant (whole history dropped in training); the paper found that variant
weaker than its Diffusion Forcing training (per-frame noise levels on the history), which is
not built here.

What it is not: trained here (`training/diffusion_stage.py`), or defined for text models or
the LocDiT patch head (refused by name). A model trained without history dropout never saw
its no-history path; w_h != 1 on it is allowed but means little.
"""

from __future__ import annotations

import torch

from livefoley.models.sampling import apply_cfg
from livefoley.protocol.errors import ConfigError

HISTORY_GUIDANCE_LIMIT = 4.0  # |w_h| <= this


def check_history_guidance(scale: float | None, config=None) -> None:
    """Raise ConfigError for w_h outside [-4, 4], or w_h != 1 on a model that cannot use it
    (`config` a ModelConfig: text models and the LocDiT head). None is not checked."""
    if scale is None:
        return
    value = float(scale)
    if not -HISTORY_GUIDANCE_LIMIT <= value <= HISTORY_GUIDANCE_LIMIT:
        raise ConfigError(f"history_guidance: expected {-HISTORY_GUIDANCE_LIMIT:g}.."
                          f"{HISTORY_GUIDANCE_LIMIT:g}, found {scale}")
    if value != 1.0 and config is not None and (config.text_dim or config.head_kind != "mlp"):
        kind = "a text model" if config.text_dim else f"head_kind {config.head_kind!r}"
        raise ConfigError(f"history_guidance: expected 1.0 for {kind} (history guidance is "
                          f"defined for the MLP head without text), found {scale}")


def history_guided(guided: torch.Tensor, cond: torch.Tensor, nohist: torch.Tensor,
                   scale: float) -> torch.Tensor:
    """guided + (scale - 1) (cond - nohist); exactly `guided` at scale 1.

    Thread-safety: pure. Real-time safe: no growth (small temporaries).
    """
    if scale == 1.0:
        return guided
    return guided + (float(scale) - 1.0) * (cond - nohist)


def video_vision_step(model, cache, tokens: torch.Tensor, *, guidance: bool, scale: float,
                      history_rows: int, history_scale: float) -> torch.Tensor:
    """Vision-position step of a model without text -> h_v (B, D): cond rows, then null rows
    (`guidance`, CFG at `scale`), then `history_rows` no-history rows (history guidance).

    Thread-safety: one thread per cache. Real-time safe: no growth (small temporaries).
    """
    B = tokens.shape[0]
    rows = [tokens]
    if guidance:
        rows.append(model.null_token.to(tokens.dtype).expand(B, -1))  # (B, Dv)
    if history_rows:
        rows.append(tokens)
    h = model.step_vision(torch.cat(rows) if len(rows) > 1 else tokens, cache)  # (rows, D)
    h_v = apply_cfg(h[:B], h[B:2 * B], scale) if guidance else h[:B]
    if history_rows:
        h_v = history_guided(h_v, h[:B], h[-B:], history_scale)
    return h_v
