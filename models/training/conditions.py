"""Conditions z of training windows, as the streaming generator would compute them.

What it is: `window_vision_tokens` (a window's frames -> its vision tokens, the frame before
the window giving the first delta), `conditions_from_tokens` (tokens and the latents the
transformer reads -> z, with condition, text and history dropout) and
`teacher_forced_conditions` (both, with the real latents fed back). Stage 1 and stage 2
(`diffusion_stage.py`), the decoder stage and the rollout tests share them.

What it is not: a loss or a sampler.
"""

from __future__ import annotations

import torch

from livefoley.models.v2a import V2AModel


def window_vision_tokens(model: V2AModel, frames: torch.Tensor) -> torch.Tensor:
    """frames (B, T+1, H, W, 3) uint8 -> vision tokens (B, T, Dv) of ticks 1..T (frame 0 gives
    the first delta).

    Thread-safety: stateless. Real-time safe: no.
    """
    vision = model.vision
    B, T1 = frames.shape[:2]
    grid = vision.encode_grid(frames.flatten(0, 1), "RGB8")  # (B*(T+1), N, Dg)
    grid = grid.view(B, T1, *grid.shape[1:])  # (B, T+1, N, Dg)
    return vision.tokens_from_grid(grid[:, 1:], prev_grid=grid[:, 0])


def conditions_from_tokens(model: V2AModel, tokens: torch.Tensor, fed_back: torch.Tensor,
                           drop: torch.Tensor, text: torch.Tensor | None = None,
                           drop_text: torch.Tensor | None = None,
                           drop_history: torch.Tensor | None = None) -> torch.Tensor:
    """tokens (B, T, Dv), fed_back (B, T, L) the latents the transformer reads, drop (B,)
    -> z (B*T, 2D).

    Text models also take `text` (B, text_dim) caption embeddings and `drop_text` (B,)
    bool (True: the null text token); without `text` every row has the null token.
    `drop_history` (B,) bool: True rows read BOS for their whole history (history dropout).

    Thread-safety: stateless. Real-time safe: no.
    """
    text_tokens = None
    if model.text is not None:
        text_tokens = model.text_token(text, batch_size=tokens.shape[0], drop=drop_text)
    z = model.forward_train(tokens, fed_back, drop_vision=drop, text_tokens=text_tokens,
                            drop_history=drop_history)  # (B, T, 2D)
    return z.reshape(-1, z.shape[-1])


def teacher_forced_conditions(model: V2AModel, frames: torch.Tensor, latents: torch.Tensor,
                              drop: torch.Tensor, text: torch.Tensor | None = None,
                              drop_text: torch.Tensor | None = None,
                              prev_aug: torch.Tensor | None = None,
                              drop_history: torch.Tensor | None = None) -> torch.Tensor:
    """frames (B, T+1, H, W, 3) uint8, latents (B, T, L), drop (B,) -> z (B*T, 2D).

    `conditions_from_tokens` of the window's vision tokens and its real latents;
    `prev_aug` (B, T, L) is added to the latents the transformer reads (not the targets).

    Thread-safety: stateless. Real-time safe: no.
    """
    fed_back = latents if prev_aug is None else latents + prev_aug
    return conditions_from_tokens(model, window_vision_tokens(model, frames), fed_back, drop,
                                  text, drop_text, drop_history)
