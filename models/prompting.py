"""Text prompts of a streaming generator: checking an embedding, and the text-guided step.

What it is: `prompt_batch` (one embedding per session from what a caller passes, with errors
that name the expected shape), `check_prompt_rows`, `PromptRows` (the prompt of each session,
a batch row), `PromptControl` (the generator's `set_prompt`, as a mixin) and
`text_vision_step` (the vision-position transformer step of a text model: rows cond = video +
text, null = neither, video = video + null text, combined by `spatial.text.combine_guidance`).
What it is not: a text encoder (`spatial/text.py`).
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


class PromptRows:
    """The prompt of each batch row: (B, text_dim) embeddings and which rows have none.

    Thread-safety: the generator's thread only. Real-time safe: no (allocates on `set`).
    """

    def __init__(self) -> None:
        self.embedding: torch.Tensor | None = None  # (B, text_dim); None: no row has a prompt
        self.off: torch.Tensor | None = None  # (B,) bool: rows without a prompt

    def set(self, embedding, rows, batch_size: int, text_dim: int, device) -> None:
        """Set `embedding` ((text_dim,), one per row, or None = no prompt) on `rows` (None:
        all). Checks everything before changing anything (ConfigError names what is wrong)."""
        idx = list(range(batch_size)) if rows is None else check_prompt_rows(rows, batch_size)
        if embedding is not None:
            embedding = prompt_batch(embedding, len(idx), text_dim, device)
        prompt = (torch.zeros(batch_size, text_dim, device=device) if self.embedding is None
                  else self.embedding.clone())
        off = (torch.ones(batch_size, dtype=torch.bool, device=device) if self.off is None
               else self.off.clone())
        if embedding is None:
            off[idx] = True
        else:
            prompt[idx], off[idx] = embedding, False
        self.embedding, self.off = (None, None) if bool(off.all()) else (prompt, off)

    def resize(self, batch_size: int) -> None:
        """A new batch size: every row gets row 0's prompt."""
        if self.embedding is not None and self.embedding.shape[0] != batch_size:
            self.embedding = self.embedding[:1].expand(batch_size, -1).clone()
            self.off = self.off[:1].expand(batch_size).clone()

    @torch.no_grad()
    def token(self, model, batch_size: int) -> torch.Tensor:
        """(B, D) text tokens: each row's prompt, the null token on rows without one."""
        drop = self.off if self.off is not None and bool(self.off.any()) else None
        return model.text_token(self.embedding, batch_size=batch_size, drop=drop).clone()


class PromptControl:
    """`StreamingGenerator`'s text-prompt methods (a mixin: it reads the generator's
    `text_dim`, `batch_size`, `device`, `model`, `steps_done`, `prompt_ramp_steps`, and owns
    `_prompts` and `_ramp`)."""

    def set_prompt(self, embedding: torch.Tensor | None, rows=None) -> None:
        """Set the text prompt of every session, or of the sessions (batch rows) in `rows`.

        Before the first step of a session the prompt applies at once; mid-stream the text
        token ramps to it over `prompt_ramp_steps` steps (the first step is already 1/n of
        the way), so the change is heard at the next block without a click. Rows not named
        keep their prompt (their part of the ramp target does not move). The prompt stays
        across `reset()`.

        Args:
            embedding: (text_dim,) for every row set, or (B, text_dim) / (len(rows),
                text_dim) one per row, e.g. `spatial.text.TextEncoder.encode(prompt)`;
                None = no prompt (the null token).
            rows: None for every session, else a sequence of distinct row indices in [0, B).

        Raises:
            ConfigError: the model takes no text (text_dim 0), the embedding is not a finite
                float tensor of an accepted shape, or a row is out of range or repeated.
                Nothing changes.

        Thread-safety: generator's thread only. Real-time safe: no (a small MLP; call
        between steps).
        """
        if not self.text_dim:
            raise ConfigError("set_prompt: expected a model with text conditioning (config "
                              "text_dim > 0), found text_dim 0")
        self._prompts.set(embedding, rows, self.batch_size, self.text_dim, self.device)
        token = self._prompt_token()
        if self.steps_done == 0:
            self._ramp = self._new_ramp(token)  # nothing heard yet: apply at once
        else:
            self._ramp.set_target(token)

    @torch.no_grad()
    def _prompt_token(self) -> torch.Tensor:
        """(B, D) text tokens of the prompts set: the null token on rows without one."""
        return self._prompts.token(self.model, self.batch_size)

    def _new_ramp(self, token: torch.Tensor):
        from livefoley.models.spatial.text import ConditionRamp

        return ConditionRamp(token, ramp_steps=self.prompt_ramp_steps)

    @property
    def prompt_ramping(self) -> bool:
        """True while the text token has not reached the last prompt set."""
        return self._ramp is not None and self._ramp.ramping


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
