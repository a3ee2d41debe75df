"""Text prompts of a streaming generator: checking an embedding, and the text-guided step.

What it is: `prompt_batch` (one embedding per session from what a caller passes, with errors
that name the expected shape) and `text_vision_step` (the vision-position transformer step of
a text model: rows cond = video + text, null = neither, video = video + null text, combined by
`spatial.text.combine_guidance`). `StreamingGenerator` holds the state (prompt, ramp, cache);
these are its stateless pieces. What it is not: a text encoder (`spatial/text.py`).
"""

from __future__ import annotations

import torch

from livefoley.protocol.errors import ConfigError


def prompt_batch(embedding, batch_size: int, text_dim: int, device: torch.device) -> torch.Tensor:
    """(text_dim,) or (B, text_dim) float embedding -> a (B, text_dim) float32 copy on `device`.

    Raises:
        ConfigError: not a float tensor of one of those shapes, or not finite.
    """
    B, Dt = batch_size, text_dim
    ok = (isinstance(embedding, torch.Tensor) and embedding.is_floating_point()
          and (tuple(embedding.shape) == (Dt,) or tuple(embedding.shape) == (B, Dt)))
    if not ok:
        found = (f"{type(embedding).__name__} {getattr(embedding, 'dtype', '')} "
                 f"{tuple(getattr(embedding, 'shape', ()))}")
        raise ConfigError(f"set_prompt: expected a float tensor of shape ({Dt},) or "
                          f"({B}, {Dt}), found {found}")
    if not bool(torch.isfinite(embedding).all()):
        raise ConfigError("set_prompt: expected finite values, found NaN or inf")
    return embedding.detach().to(device, torch.float32).expand(B, Dt).clone()


def check_prompt_rows(rows, batch_size: int) -> list[int]:
    """Distinct batch rows in [0, batch_size) as a list of ints.

    Raises:
        ConfigError: not a sequence of ints, empty, out of range or repeated; names the rows.
    """
    try:
        idx = [int(r) for r in rows]
        exact = all(int(r) == r for r in rows)
    except (TypeError, ValueError):
        raise ConfigError(f"set_prompt: expected rows as a sequence of ints, found {rows!r}") from None
    if not exact or not idx or len(set(idx)) != len(idx) or not all(0 <= r < batch_size for r in idx):
        raise ConfigError(f"set_prompt: expected distinct rows in [0, {batch_size}), found {list(rows)}")
    return idx


def text_vision_step(model, cache, tokens: torch.Tensor, text: torch.Tensor, *, guidance: bool,
                     video_scale: float, text_scale: float) -> torch.Tensor:
    """One vision-position step with text condition `text` (B, D) -> guided output (B, D).

    Without guidance only the cond rows run; with it, 3B rows in one call.
    """
    from livefoley.models.spatial.text import combine_guidance

    if not guidance:
        return model.step_vision(tokens, cache, text)
    B = tokens.shape[0]
    null_v = model.null_token.to(tokens.dtype).expand(B, -1)  # (B, Dv)
    null_t = model.text.null_token.to(text.dtype).expand(B, -1)  # (B, D)
    h = model.step_vision(torch.cat([tokens, null_v, tokens]), cache,
                          torch.cat([text, null_t, null_t]))  # (3B, D)
    return combine_guidance(h[B:2 * B], h[2 * B:], h[:B], video_scale=video_scale,
                            text_scale=text_scale)
