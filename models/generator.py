"""Frame-by-frame audio generation for a batch of independent sessions.

What it is: `StreamingGenerator`, SoundReactor's Algorithm 3 as a stream. Per frame i:
1. `prepare()`: feed the previous latent x_{i-1} (BOS at i = 1) through the transformer for
   the cond and null rows. It depends only on past audio, so a caller runs it while waiting
   for the frame; `step` runs it itself if the caller did not.
2. `step(frames)`: vision token v_i; transformer step with [v_i ; null] batched (2B rows);
   guidance null + w (cond - null) on the vision-position output; the head samples x_i
   (consistency NFE 1..4 or EDM Heun) from seeded noise; the causal VAE decoder turns x_i
   into one hop of PCM with its per-layer state.
`generate(frames)` is the offline equivalent: vision over the whole clip at once, the same
autoregressive latent loop, one offline VAE decode. It equals stepping (tested).

Two noise options of that loop, `noise_correlation` (AR(1) sampling noise across steps) and
`feedback_noise` (noise on the fed-back latent), both off by default: `noise_options.py`.
`history_guidance` w_h (1 by default: off) adds a group of no-history rows (BOS at every
audio position) and weighs the fed-back history by w_h: `history_guidance.py`.

Text (models with `config.text_dim > 0`): `set_prompt(embedding)` sets the prompt; the text
condition token moves to the new prompt's token over `prompt_ramp_steps` steps
(`spatial.text.ConditionRamp`), so a change is heard at the next step and has no click at the
block boundary (tested with `click_ratio`). Guidance then runs three row groups: cond (video +
text), null (neither) and video (video, null text), combined by `combine_guidance`.

What it is not: thread-safe or a scheduler. One thread steps one generator; which frame to
take and when is the sidecar's business. The cond and null rows always run (static shapes
for CUDA-graph capture), so guidance_scale = 1 costs the same as any other scale; a generator
built with `guidance=False` has no null rows (half the transformer rows) and scale 1 only.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from livefoley.models.history_guidance import (
    check_history_guidance,
    history_guided,
    video_vision_step,
)
from livefoley.models.noise_options import StepNoise, check_noise_options
from livefoley.models.patch_stream import PatchStream
from livefoley.models.prompting import PromptControl, PromptRows, text_vision_step
from livefoley.models.sampling import (
    MAX_CONSISTENCY_NFE,
    consistency_sample,
    consistency_sigmas,
    heun_sample,
    karras_sigmas,
)
from livefoley.models.stagetime import STAGES, check_device
from livefoley.models.stagetime import ZERO_WATCH as _ZERO_WATCH
from livefoley.models.stagetime import Stopwatch as _Stopwatch
from livefoley.models.v2a import V2AModel
from livefoley.protocol.errors import ConfigError, ProtocolError

log = logging.getLogger(__name__)

SAMPLERS = ("consistency", "heun")
DEFAULT_GUIDANCE = 3.0  # CFG scale of a model whose checkpoint names none
DEFAULT_NFE = 1  # consistency NFE of a model whose checkpoint names none


class StreamingGenerator(PromptControl, PatchStream):
    """Stateful per-frame generator; see the module docstring.

    Args:
        model: a V2AModel (weights are shared, never modified).
        batch_size: number of independent sessions stepped together.
        device: where the streaming state lives (the model is moved there).
        seed: seed of the sampling noise; the same seed and frames give the same audio.
        guidance: keep the null (CFG) rows. False halves the transformer's rows (a CPU
            saving) and fixes guidance_scale at 1.
        prompt_ramp_steps: model steps over which a prompt change ramps in (text models).

    Thread-safety: one thread per generator. Real-time safe: no (it runs the network), but
    per-step work allocates no state: caches, decoder state and noise buffers are static.
    """

    def __init__(self, model: V2AModel, *, batch_size: int = 1, device: str | torch.device = "cpu",
                 seed: int = 0, guidance: bool = True, prompt_ramp_steps: int = 4) -> None:
        self.device = check_device(device)
        self.model = model.to(self.device).eval()
        self.cfg = model.config
        self.seed = seed
        self.nfe = int(model.sampling_defaults.get("nfe", DEFAULT_NFE))
        self.guidance = guidance
        # The model's own default when its checkpoint names one, else SoundReactor's default
        # for its latency benchmark (Table 6 caption); 1 = no guidance.
        self.guidance_scale = (model.sampling_defaults.get("guidance_scale", DEFAULT_GUIDANCE)
                               if guidance else 1.0)
        self.noise_correlation = float(model.sampling_defaults.get("noise_correlation", 0.0))
        self.feedback_noise = float(model.sampling_defaults.get("feedback_noise", 0.0))
        self.history_guidance = float(model.sampling_defaults.get("history_guidance", 1.0))
        check_history_guidance(self.history_guidance, self.cfg)
        self.sampler = "consistency"
        self.steps = 32
        self.last_timings_ms: dict[str, float] = {}  # wall time per stage (perf_counter)
        self.last_cpu_ms: dict[str, float] = {}  # process CPU time per stage, same keys
        self.last_condition: torch.Tensor | None = None  # (B, 2D) of the last step
        self.steps_done = 0
        self._sigmas = self._make_sigmas()
        if prompt_ramp_steps < 1:
            raise ConfigError(f"prompt_ramp_steps: expected >= 1, found {prompt_ramp_steps}")
        self.prompt_ramp_steps = int(prompt_ramp_steps)
        self.text_guidance_scale = DEFAULT_GUIDANCE if guidance else 1.0
        self._prompts = PromptRows()  # the prompt of each session (batch row)
        self.reset(batch_size)

    @property
    def text_dim(self) -> int:
        """Size of the prompt embedding the model takes; 0 when it takes no text."""
        return int(self.cfg.text_dim)

    # --- options and state ---------------------------------------------------------------

    def check_options(self, *, nfe: int | None = None, guidance_scale: float | None = None,
                      sampler: str | None = None, steps: int | None = None,
                      text_guidance_scale: float | None = None,
                      noise_correlation: float | None = None,
                      feedback_noise: float | None = None,
                      history_guidance: float | None = None) -> None:
        """Raise what `set_options` would raise for these values, and change nothing.

        For callers that must check several things before changing any (the control
        channel's `configure`). None is not checked.

        Raises:
            ConfigError: a value out of range or one this generator cannot use (named).

        Thread-safety: reads only. Real-time safe: yes.
        """
        if sampler is not None and sampler not in SAMPLERS:
            raise ConfigError(f"sampler: expected one of {list(SAMPLERS)}, found {sampler!r}")
        if nfe is not None and not 1 <= nfe <= MAX_CONSISTENCY_NFE:
            raise ConfigError(f"nfe: expected 1..{MAX_CONSISTENCY_NFE}, found {nfe}")
        if steps is not None and steps < 1:
            raise ConfigError(f"steps: expected >= 1, found {steps}")
        if guidance_scale is not None and not self.guidance and float(guidance_scale) != 1.0:
            raise ConfigError(f"guidance_scale: expected 1.0 (generator built with "
                              f"guidance=False, no null rows), found {guidance_scale}")
        if text_guidance_scale is not None:
            if not self.text_dim:
                raise ConfigError("text_guidance_scale: expected a model with text (config "
                                  "text_dim > 0), found text_dim 0")
            if not self.guidance and float(text_guidance_scale) != 1.0:
                raise ConfigError(f"text_guidance_scale: expected 1.0 (generator built with "
                                  f"guidance=False), found {text_guidance_scale}")
        check_noise_options(noise_correlation, feedback_noise)
        check_history_guidance(history_guidance, self.cfg)

    def set_options(self, *, nfe: int | None = None, guidance_scale: float | None = None,
                    sampler: str | None = None, steps: int | None = None,
                    text_guidance_scale: float | None = None,
                    noise_correlation: float | None = None,
                    feedback_noise: float | None = None,
                    history_guidance: float | None = None) -> None:
        """Change sampling options; takes effect at the next step.

        Args:
            nfe: consistency sampler evaluations, 1..4.
            guidance_scale: CFG scale w (1 = no guidance); the video scale for text models.
            sampler: "consistency" (ECT-tuned head) or "heun" (diffusion head).
            steps: Heun steps (2 * steps - 1 evaluations).
            text_guidance_scale: text scale of `combine_guidance` (text models; 0 ignores
                the prompt, 1 = no text guidance).
            noise_correlation: rho in [0, 1], the AR(1) correlation of the sampling noise
                across steps (`noise_options.py`); a change restarts the chain.
            feedback_noise: f in [0, 10), std of the noise on the fed-back latent.
            history_guidance: w_h in [-4, 4] (`history_guidance.py`; MLP head, no text). A
                change between 1 and another value adds or removes the no-history rows and
                so restarts every stream (`reset`, which allocates).

        Raises:
            ConfigError: a value out of range; the message names it and the valid range.
                Nothing changes when one is refused.

        Thread-safety: generator's thread only. Real-time safe: yes (small allocation of the
        sigma schedule; call between steps).
        """
        self.check_options(nfe=nfe, guidance_scale=guidance_scale, sampler=sampler, steps=steps,
                           text_guidance_scale=text_guidance_scale, noise_correlation=noise_correlation,
                           feedback_noise=feedback_noise, history_guidance=history_guidance)
        if (nfe not in (None, self.nfe) or sampler not in (None, self.sampler)
                or noise_correlation is not None):
            self._step_noise.restart_chain()  # a new noise shape or rho
        if noise_correlation is not None:
            self.noise_correlation = float(noise_correlation)
        if feedback_noise is not None:
            self.feedback_noise = float(feedback_noise)
        self.nfe = self.nfe if nfe is None else int(nfe)
        if text_guidance_scale is not None:
            self.text_guidance_scale = float(text_guidance_scale)
        self.sampler = self.sampler if sampler is None else sampler
        self.steps = self.steps if steps is None else int(steps)
        if guidance_scale is not None:
            self.guidance_scale = float(guidance_scale)
        self._sigmas = self._make_sigmas()
        if history_guidance is not None:
            rows_before = self._history_rows
            self.history_guidance = float(history_guidance)
            if self._history_rows != rows_before:
                self.reset()

    @property
    def _history_rows(self) -> int:
        """No-history rows of history guidance: B when w_h != 1, else none."""
        return self.batch_size if self.history_guidance != 1.0 else 0

    def _make_sigmas(self) -> torch.Tensor:
        h = self.cfg.head
        if self.sampler == "heun":
            return karras_sigmas(self.steps, h.sigma_min, h.sigma_max, h.rho, self.device)
        return consistency_sigmas(self.nfe, h.sigma_min, h.sigma_max, h.rho, self.device)

    def reset(self, batch_size: int | None = None) -> None:
        """Start every session afresh (new KV cache, decoder and vision state, noise seed).

        Args:
            batch_size: new number of sessions; None keeps the current one.

        Raises:
            ConfigError: batch_size < 1.

        Thread-safety: generator's thread only. Real-time safe: no (allocates when the batch
        size changes; clears in place otherwise).
        """
        if batch_size is not None:
            if batch_size < 1:
                raise ConfigError(f"batch_size: expected >= 1, found {batch_size}")
            self.batch_size = int(batch_size)
        B = self.batch_size
        self._prompts.resize(B)  # a new batch size: every row gets row 0's prompt
        # cond rows, then null rows, then (text models) video-only rows, then no-history rows
        groups = (3 if self.text_dim else 2) if self.guidance else 1
        rows = groups * B + self._history_rows
        if getattr(self, "cache", None) is not None and self.cache.batch_size == rows:
            # Same batch: clear in place, so every static tensor keeps its address (a
            # captured CUDA graph stays valid across sessions).
            self.cache.reset()
            for t in self.vae_state:
                t.zero_()
        else:
            self.cache = self.model.new_cache(rows, device=self.device)
            self.vae_state = self.model.vae.decoder.init_state(B, device=self.device)
            patch = (self.patch_latents,) if self.cfg.head_kind == "locdit" else ()
            self._noise_buf = torch.empty((MAX_CONSISTENCY_NFE, B, *patch, self.cfg.latent_dim),
                                          device=self.device)
            self._step_noise = StepNoise(self._noise_buf.shape, (B, self.cfg.latent_dim),
                                         self.device)
        self.vision_state = self.model.vision.init_state(B, device=self.device)
        self.rng = torch.Generator(device=self.device).manual_seed(self.seed)
        self._step_noise.restart(self.seed)
        self.prev_latent: torch.Tensor | None = None
        self._z_audio: torch.Tensor | None = None
        self._reset_patch_state()
        self.steps_done = 0
        self._ramp = self._new_ramp(self._prompt_token()) if self.text_dim else None
        self.last_text_token: torch.Tensor | None = None  # (B, D) text token of the last step

    def state_bytes(self) -> int:
        """Bytes held by the streaming state (KV cache + decoder state); constant per stream.

        Thread-safety: generator's thread only. Real-time safe: yes.
        """
        return self.cache.storage_bytes() + self.model.vae.decoder.state_bytes(self.vae_state)

    # --- the per-frame path --------------------------------------------------------------

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def prepare(self) -> None:
        """Run the previous-audio transformer step now, ahead of the frame.

        Idempotent until the next `step`. Thread-safety: generator's thread only.
        """
        if self._z_audio is not None:
            return
        watch = _Stopwatch(self._sync)
        if self.cfg.head_kind == "locdit":
            if self._pending is None:  # stream start: BOS
                h = self.model.step_audio(None, self.cache)
            else:  # the last patch's k latents, now that it is sampled
                for j in range(self._pending.shape[1]):
                    h = self.model.step_audio(self._fed_back(self._pending[:, j]), self.cache)
                self._pending = None
        else:
            h = self.model.step_audio(self._fed_back(self.prev_latent), self.cache,
                                      self._history_rows)  # (2B [+ B], D)
        B = self.batch_size
        self._z_audio = h[:B]  # cond rows
        if self._history_rows:
            self._z_audio = history_guided(h[:B], h[:B], h[-B:], self.history_guidance)
        watch.lap("transformer_audio")
        self._prepare_watch = watch

    def _fed_back(self, latent: torch.Tensor | None) -> torch.Tensor | None:
        return self._step_noise.feed_back(latent, self.feedback_noise)

    def _noise(self) -> torch.Tensor:
        n = 1 if self.sampler == "heun" else self.nfe
        buf = self._noise_buf[:n]  # (n, B, L), preallocated: no per-step allocation
        torch.randn(buf.shape, generator=self.rng, out=buf)
        rho = self.noise_correlation
        return buf if rho == 0.0 else self._step_noise.correlate(buf, rho)

    def _latent_from_tokens(self, tokens: torch.Tensor, watch: _Stopwatch) -> torch.Tensor:
        """Steps 2-5 after vision: transformer (cond+null), guidance, head. -> (B, latent)."""
        self.prepare()  # no-op in `step`, which prepared before starting its watch
        if self.text_dim:
            h_v = self._text_vision_step(tokens)
        else:
            h_v = video_vision_step(self.model, self.cache, tokens, guidance=self.guidance,
                                    scale=self.guidance_scale, history_rows=self._history_rows,
                                    history_scale=self.history_guidance)
        z = torch.cat([self._z_audio, h_v], dim=-1)
        watch.lap("transformer")
        if self.cfg.head_kind == "locdit":
            return self._patch_step(z, h_v, watch)
        latent = self._sample(self.model.head.make_denoiser(z))
        watch.lap("head")
        self.last_condition = z
        self.prev_latent = latent
        self._z_audio = None
        self.steps_done += 1
        return latent

    def _sample(self, denoiser) -> torch.Tensor:
        noise = self._noise()
        if self.sampler == "heun":
            return heun_sample(denoiser, noise[0], self._sigmas)
        return consistency_sample(denoiser, noise, self._sigmas)

    def _text_vision_step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Vision-position step of a text model: cond / null / video rows, guided -> (B, D)."""
        text = self._ramp.step()  # (B, D): ramps towards the last prompt set
        self.last_text_token = text
        return text_vision_step(self.model, self.cache, tokens, text, guidance=self.guidance,
                                video_scale=self.guidance_scale, text_scale=self.text_guidance_scale)

    def _as_frames(self, frames, ndim: int) -> torch.Tensor:
        if isinstance(frames, np.ndarray):
            # A read-only view (e.g. of shared memory) cannot back a tensor without a warning
            # about writes; one copy of a frame is cheap next to the step.
            frames = torch.from_numpy(frames if frames.flags.writeable else frames.copy())
        if (not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8
                or frames.dim() != ndim):
            found = (f"{type(frames).__name__} {getattr(frames, 'dtype', '')} "
                     f"{tuple(getattr(frames, 'shape', ()))}")
            raise ProtocolError(f"frames: expected a uint8 array of {ndim} dims, found {found}")
        if frames.shape[0] != self.batch_size:
            raise ProtocolError(f"frames: expected batch {self.batch_size}, "
                                f"found {frames.shape[0]}")
        return frames

    @torch.inference_mode()
    def step(self, frames, pixel_format: str = "RGBA8") -> torch.Tensor:
        """One frame per session in, one hop of PCM per session out.

        Args:
            frames: uint8 (B, H, W, C) torch tensor or numpy array.
            pixel_format: "RGBA8", "BGRA8" or "RGB8".

        Returns:
            (B, hop_samples, channels) float32 PCM on the generator's device.

        Raises:
            ProtocolError: frames of the wrong dtype, rank or batch size.

        Thread-safety: generator's thread only. Real-time safe: no (network), static state.
        """
        frames = self._as_frames(frames, 4)
        self.prepare()  # no-op when the caller ran it ahead
        prepared = self._prepare_watch
        if self.cfg.head_kind == "locdit":  # mid-patch steps have no audio tokens to feed
            self._prepare_watch = _ZERO_WATCH
        watch = _Stopwatch(self._sync)
        tokens, self.vision_state = self.model.vision.step(frames, pixel_format, self.vision_state)
        watch.lap("vision")
        latent = self._latent_from_tokens(tokens, watch)
        if latent is None:  # LocDiT, first k - 1 steps: the decoder state stays untouched
            pcm = torch.zeros((self.batch_size, self.cfg.hop_samples, self.cfg.channels),
                              device=self.device)
        else:
            vae_dtype = self.vae_state[0].dtype if self.vae_state else latent.dtype
            z = latent[:, :, None].to(vae_dtype)  # (B, L, 1)
            pcm = self.model.vae.decode_step(z, self.vae_state)  # (B, C, hop)
            pcm = pcm.transpose(1, 2).float()  # (B, hop, C)
        watch.lap("vae")
        for times, ahead in ((watch.wall, prepared.wall), (watch.cpu, prepared.cpu)):
            times["transformer_audio"] = ahead["transformer_audio"]
            times["total"] = sum(times[k] for k in STAGES)
        self.last_timings_ms, self.last_cpu_ms = watch.wall, watch.cpu
        return pcm

    # --- offline -------------------------------------------------------------------------

    @torch.inference_mode()
    def generate_latents(self, frames, pixel_format: str = "RGBA8") -> torch.Tensor:
        """Latents of whole clips (B, T, latent_dim); resets the stream first.

        Vision runs offline over all T frames; the latent loop is autoregressive by nature.

        Raises:
            ProtocolError: frames not uint8 (B, T, H, W, C) with B = the generator's batch.

        Thread-safety: generator's thread only. Real-time safe: no.
        """
        frames = self._as_frames(frames, 5)
        self.reset()
        tokens = self.model.vision(frames, pixel_format)  # (B, T, Dv)
        if self.cfg.head_kind == "locdit":  # the latents of every complete patch
            patches = []
            for t in range(tokens.shape[1]):
                self._latent_from_tokens(tokens[:, t], _Stopwatch(self._sync))
                if self._frame_in_patch == 0:
                    patches.append(self.last_patch)
            if not patches:
                return torch.zeros((self.batch_size, 0, self.cfg.latent_dim), device=self.device)
            return torch.cat(patches, dim=1)  # (B, (T // k) k, L)
        latents = [self._latent_from_tokens(tokens[:, t], _Stopwatch(self._sync))
                   for t in range(tokens.shape[1])]
        return torch.stack(latents, dim=1)  # (B, T, L)

    def forward_train(self, vision_tokens: torch.Tensor, latents: torch.Tensor,
                      text_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced conditions of whole clips, as stepping would produce them.

        Args:
            vision_tokens: (B, T, token_dim), e.g. `model.vision(frames, fmt)`.
            latents: (B, T, latent_dim) the latents of the clip.
            text_tokens: text models: (B, D) or (B, T, D) text tokens; None = the current
                prompt's token (as stepping after `reset()` uses).

        Returns:
            (B, T, 2 * d_model): the guided z_i at this generator's guidance scale; equal to
            `last_condition` after each of T steps that produced `latents` (tested).

        Thread-safety: stateless (reads weights only). Real-time safe: no.
        """
        if self.text_dim:
            if text_tokens is None:
                text_tokens = self._prompt_token()
            return self.model.guided_conditions(vision_tokens, latents, self.guidance_scale,
                                                text_tokens, self.text_guidance_scale)
        return self.model.guided_conditions(vision_tokens, latents, self.guidance_scale,
                                            text_tokens, history_scale=self.history_guidance)

    @torch.inference_mode()
    def generate(self, frames, pixel_format: str = "RGBA8") -> torch.Tensor:
        """Offline: frames (B, T, H, W, C) -> PCM (B, T * hop_samples, channels).

        Equals `reset()` followed by T calls of `step` (tested). Leaves the generator reset.

        Raises:
            ProtocolError: frames not uint8 (B, T, H, W, C) with B = the generator's batch.

        Thread-safety: generator's thread only. Real-time safe: no.
        """
        latents = self.generate_latents(frames, pixel_format)  # (B, T, L)
        T, d = frames.shape[1], self.output_delay_steps
        latents = latents[:, :max(T - d, 0)]  # what stepping plays: frame i at step i + d
        if latents.shape[1] == 0:
            self.reset()
            return torch.zeros((frames.shape[0], T * self.cfg.hop_samples, self.cfg.channels),
                               device=self.device)
        vae_dtype = next(self.model.vae.parameters()).dtype
        pcm = self.model.vae.decode(latents.transpose(1, 2).to(vae_dtype))  # (B, C, T*hop)
        self.reset()
        pcm = pcm.transpose(1, 2).float()  # (B, (T - d) hop, C)
        if d:
            silence = torch.zeros((pcm.shape[0], min(d, T) * self.cfg.hop_samples, pcm.shape[2]),
                                  device=pcm.device)
            pcm = torch.cat([silence, pcm], dim=1)
        return pcm
