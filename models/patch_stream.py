"""The LocDiT patch head's side of the streaming generator, as a mixin.

What it is: `PatchStream`, the state and step of a generator whose head samples a patch of k
latents at once (`config.head_kind == "locdit"`, `spatial/locdit.py`): it collects the guided
h(v) of k frames, samples the patch at the k-th, feeds the patch back as k audio tokens before
the next frame, and plays one latent per step (so the audio of frame i comes k - 1 steps
later: `output_delay_steps`). The MLP head (k = 1) uses only the properties.

What it is not: a generator on its own; `StreamingGenerator` (`generator.py`) owns the cache,
the sampler (`_sample`) and the per-frame path that calls `_patch_step`.
"""

from __future__ import annotations

import torch


class PatchStream:
    """Mixin of `StreamingGenerator`: needs `cfg`, `model`, `_sample`, `_z_audio`,
    `steps_done`, `prev_latent` and `last_condition` from it.

    Thread-safety: the generator's thread only.
    """

    def _reset_patch_state(self) -> None:
        """A new stream: no frames in the current patch, nothing queued, no context."""
        # Frames seen in the current patch, their guided h(v), the last patch (to feed as
        # audio tokens, and to play one latent per step), the head's context.
        self._frame_in_patch = 0
        self._hv: list[torch.Tensor] = []
        self._pending: torch.Tensor | None = None  # (B, k, L) not yet fed to the transformer
        self._queue: torch.Tensor | None = None  # (B, k, L) being played
        self._queue_pos = 0
        self._context: torch.Tensor | None = None  # (B, <= 2k, L)
        self.last_patch: torch.Tensor | None = None

    def _patch_step(self, z: torch.Tensor, h_v: torch.Tensor, watch) -> torch.Tensor | None:
        """LocDiT: collect h(v); at the k-th frame sample the patch; play one latent per step.

        Returns the latent to play now, or None during the first k - 1 steps of a stream.
        """
        k = self.patch_latents
        self.last_condition = z
        self._hv.append(h_v)
        self._frame_in_patch += 1
        if self._frame_in_patch == k:
            cond = torch.cat([self._z_audio, *self._hv], dim=-1)  # (B, (k+1) D)
            patch = self._sample(self.model.head.make_denoiser(cond, self._context))  # (B, k, L)
            n_ctx = self.model.head.config.context_latents
            ctx = patch if self._context is None else torch.cat([self._context, patch], dim=1)
            self._context = ctx[:, -n_ctx:] if n_ctx else None
            self._pending = self._queue = self.last_patch = patch
            self._queue_pos = 0
            self._frame_in_patch = 0
            self._hv = []
            self._z_audio = None
        watch.lap("head")
        self.steps_done += 1
        if self._queue is None or self._queue_pos >= k:
            return None
        latent = self._queue[:, self._queue_pos]  # (B, L)
        self._queue_pos += 1
        self.prev_latent = latent
        return latent

    @property
    def patch_latents(self) -> int:
        """Latents per head call: 1 for the MLP head, k for LocDiT."""
        return self.cfg.patch_latents

    @property
    def output_delay_steps(self) -> int:
        """Blocks between a frame and the audio it conditions: 0 (MLP) or k - 1 (LocDiT).

        `step` number i (1-based) returns the audio of frame i - output_delay_steps; the first
        `output_delay_steps` blocks of a stream are silence. Time to first audio is the
        wall time until step `first_audio_step` returns.
        """
        return self.patch_latents - 1

    @property
    def first_audio_step(self) -> int:
        """1-based number of the first `step` call of a stream that returns model audio."""
        return self.output_delay_steps + 1
