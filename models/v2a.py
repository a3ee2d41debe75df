"""The video-to-audio network: vision front-end, causal transformer, head and audio VAE.

What it is: `V2AModel`, which owns the four parts, the token embeddings and the learned null
vision token for classifier-free guidance, and defines the token stream of SoundReactor
(arXiv 2510.02110, Fig. 2 and Algorithm 3):

    position:  0         1    2    3    4   ...  2i-2      2i-1
    token:     x_0=BOS   v_1  x_1  v_2  x_2 ...  x_{i-1}   v_i

The condition of frame i is z_i = [h(x_{i-1}), h(v_i)], the transformer outputs at the
previous-audio and current-vision positions. A model with text (`config.text_dim > 0`) adds a
text condition token t_i (the projected prompt embedding, or a learned null token for "no
prompt") to the embedding of every vision position: v_i -> vision_in(v_i) + t_i. Per frame,
not a prefix, because a prefix token would leave the sliding KV window after W frames and a
prompt may change mid-stream. `forward_train` computes every z_i at once
(teacher forcing, causal sliding-window mask); `step_audio` / `step_vision` compute them one
token at a time on a `KVCache` and give the same numbers (tested).

What it is not: a sampler loop or a stream (see `generator.py`), or a loss (training issue).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from livefoley.models.config import ModelConfig
from livefoley.models.foa_latent import DIRECTION_DIMS
from livefoley.models.head import DiffusionHead
from livefoley.models.history_guidance import check_history_guidance, history_guided
from livefoley.models.kv_cache import KVCache
from livefoley.models.sampling import apply_cfg
from livefoley.models.transformer import CausalTransformer
from livefoley.models.vae import AudioVAE
from livefoley.models.vision import build_vision_frontend
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


class V2AModel(nn.Module):
    """All weights of the generator. `config` is the ModelConfig it was built from."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        # How this model is best sampled, e.g. {"guidance_scale": 2.0, "nfe": 4}; travels in
        # its checkpoint's metadata (checkpoint.py). Empty: the generator's own defaults.
        self.sampling_defaults: dict[str, float | int] = {}
        D = cfg.transformer.d_model
        self.vision = build_vision_frontend(cfg.vision)
        self.vision_in = nn.Linear(cfg.vision.token_dim, D)
        self.audio_in = nn.Linear(cfg.latent_dim, D)
        # An FOA-direction latent's last dims are the sound's direction (models/foa_latent.py).
        # They are not fed back as audio tokens: with them, the model learns to copy the
        # previous frame's direction (teacher forcing hands it the true one) and, sampling,
        # keeps whatever direction it started with (measured: LE 85 deg, recall within
        # 20 deg 0.024). Without them the direction must come from the frames.
        mask = torch.ones(cfg.latent_dim)
        if cfg.vae.decoder_output == "foa_direction":
            mask[-DIRECTION_DIMS:] = 0.0
        self.register_buffer("feedback_mask", mask, persistent=False)
        self.bos = nn.Parameter(0.02 * torch.randn(D))
        # Null vision token in the vision front-end's output space: CFG training replaces the
        # whole vision sequence by it (SoundReactor Alg. 1, line 3).
        self.null_token = nn.Parameter(0.02 * torch.randn(cfg.vision.token_dim))
        self.transformer = CausalTransformer(cfg.transformer)
        h = cfg.head
        if cfg.head_kind == "locdit":
            self.head = build_patch_head(cfg)
        else:
            self.head = DiffusionHead(latent_dim=cfg.latent_dim, cond_dim=cfg.cond_dim,
                                      width=h.width, n_blocks=h.n_blocks,
                                      time_embed_dim=h.time_embed_dim, sigma_data=h.sigma_data,
                                      logvar_channels=h.logvar_channels, seed=cfg.seed)
        self.vae = AudioVAE(cfg.vae)
        # Built last so that a model without text draws exactly the random numbers it drew
        # before text existed (same seeded weights, same checkpoint keys).
        self.text = None
        if cfg.text_dim:
            from livefoley.models.spatial.text import TextConditioner  # numpy-heavy package

            self.text = TextConditioner(width=D, text_dim=cfg.text_dim)

    # --- text condition ------------------------------------------------------------------

    def text_token(self, embedding: torch.Tensor | None, *, batch_size: int = 1,
                   drop: torch.Tensor | None = None) -> torch.Tensor:
        """Text condition tokens (B, d_model): projected embeddings, or the null token.

        Args:
            embedding: (B, text_dim) prompt embeddings, or None for "no prompt".
            batch_size: rows when `embedding` is None.
            drop: optional (B,) bool; True rows get the null token (CFG training dropout).

        Raises:
            ConfigError: the model takes no text, or the embedding has the wrong shape.

        Thread-safety: stateless. Real-time safe: no growth (small temporaries).
        """
        if self.text is None:
            raise ConfigError(f"text_token: expected a model with text conditioning "
                              f"(config text_dim > 0), found text_dim {self.config.text_dim}")
        if embedding is not None:
            embedding = embedding.to(self.text.null_token.dtype)
        return self.text(embedding, drop=drop, batch_size=batch_size)

    def _check_text_tokens(self, text_tokens: torch.Tensor | None, B: int, T: int):
        if text_tokens is None:
            if self.text is None:
                return None
            return self.text.null_token.expand(B, T, -1)  # (B, T, D)
        if self.text is None:
            raise ConfigError(f"text_tokens: expected None (config text_dim 0: the model takes "
                              f"no text), found a tensor of shape {tuple(text_tokens.shape)}")
        D = self.config.transformer.d_model
        if text_tokens.dim() == 2:
            text_tokens = text_tokens[:, None].expand(-1, T, -1)  # (B, T, D): one per clip
        if tuple(text_tokens.shape) != (B, T, D):
            raise ConfigError(f"text_tokens: expected (B={B}, D={D}) or (B={B}, T={T}, D={D}), "
                              f"found {tuple(text_tokens.shape)}")
        return text_tokens

    # --- teacher-forced (offline) path -------------------------------------------------

    def embed_sequence(self, vision_tokens: torch.Tensor, latents: torch.Tensor,
                       text_tokens: torch.Tensor | None = None,
                       drop_history: torch.Tensor | None = None) -> torch.Tensor:
        """Interleave [BOS, v_1, x_1, ..., x_{T-1}, v_T] as embeddings (B, 2T, d_model).

        Args:
            vision_tokens: (B, T, token_dim).
            latents: (B, T, latent_dim) clean latents x_1..x_T; x_T is not an input.
            text_tokens: (B, T, d_model) or (B, d_model) text condition tokens added at the
                vision positions (models with text; None = the null token).
            drop_history: optional (B,) bool; True rows read BOS ("no audio yet") at every
                audio position instead of x_1..x_{T-1} (history dropout, and the no-history
                path of history guidance).
        """
        B, T, _ = vision_tokens.shape
        if latents.shape[:2] != (B, T) or latents.shape[2] != self.config.latent_dim:
            raise ConfigError(f"embed_sequence: expected latents of shape "
                              f"{(B, T, self.config.latent_dim)}, found {tuple(latents.shape)}")
        v = self.vision_in(vision_tokens)  # (B, T, D)
        text_tokens = self._check_text_tokens(text_tokens, B, T)
        if text_tokens is not None:
            v = v + text_tokens.to(v.dtype)
        if self.config.head_kind == "locdit":
            return self._embed_patches(v, latents, drop_history)
        a = self._history(self.audio_in(latents[:, :-1] * self.feedback_mask),
                          drop_history)  # (B, T-1, D)
        a = torch.cat([self.bos.expand(B, 1, -1), a], dim=1)  # (B, T, D): x_0..x_{T-1}
        return torch.stack([a, v], dim=2).flatten(1, 2)  # (B, 2T, D)

    def _history(self, a: torch.Tensor, drop_history: torch.Tensor | None) -> torch.Tensor:
        """Audio-token embeddings a (B, n, D), with BOS in the rows `drop_history` marks."""
        if drop_history is None:
            return a
        if tuple(drop_history.shape) != (a.shape[0],):
            raise ConfigError(f"drop_history: expected a bool tensor of shape ({a.shape[0]},), "
                              f"found {tuple(drop_history.shape)}")
        return torch.where(drop_history[:, None, None], self.bos.to(a.dtype), a)

    def _embed_patches(self, v: torch.Tensor, latents: torch.Tensor,
                       drop_history: torch.Tensor | None = None) -> torch.Tensor:
        """Patch layout [BOS, v_1..v_k, x_1..x_k, v_k+1..v_2k, ...] -> (B, 2T - k + 1, D).

        The audio of patch p enters only after the whole patch is sampled, so the k vision
        positions of patch p+1 follow the k audio positions of patch p. Frame t (0-based,
        p = t // k, j = t % k) sits at position 1 + 2pk + j; the last audio token before
        patch p (BOS for p = 0) at 2pk.
        """
        B, T, D = v.shape
        k = self.config.patch_latents
        if T % k:
            raise ConfigError(f"LocDiT head: expected a clip length that is a multiple of "
                              f"the patch ({k} latents), found {T}")
        P = T // k
        a = self._history(self.audio_in(latents[:, :T - k] * self.feedback_mask),
                          drop_history).view(B, P - 1, k, D)  # x_1 .. x_{T-k}
        vp = v.view(B, P, k, D)
        body = torch.cat([a, vp[:, 1:]], dim=2).flatten(1, 2)  # (B, (P-1) 2k, D)
        return torch.cat([self.bos.expand(B, 1, -1), vp[:, 0], body], dim=1)

    def patch_conditions(self, z: torch.Tensor) -> torch.Tensor:
        """Per-frame conditions (B, T, 2D) of a LocDiT model -> per-patch (B, P, (k+1) D).

        Patch p's condition is [h(last audio token before it), h(v) of each of its k frames]:
        the frame-level vision outputs keep the within-patch timing the head must render.
        """
        B, T, D2 = z.shape
        k, D = self.config.patch_latents, D2 // 2
        a = z[:, ::k, :D]  # (B, P, D): the same for every frame of a patch
        v = z[..., D:].reshape(B, T // k, k * D)  # (B, P, kD)
        return torch.cat([a, v], dim=-1)

    def forward_train(
        self,
        vision_tokens: torch.Tensor,
        latents: torch.Tensor,
        drop_vision: torch.Tensor | None = None,
        text_tokens: torch.Tensor | None = None,
        drop_history: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame head conditions z_i of a whole clip, teacher-forced and causal.

        Args:
            vision_tokens: (B, T, token_dim) from `self.vision`.
            latents: (B, T, latent_dim) clean latents of the clip.
            drop_vision: optional (B,) bool; True rows see the null token at every vision
                position (CFG training, and the null path of guidance).
            text_tokens: (B, d_model) or (B, T, d_model) from `text_token` (models with text;
                None = no prompt). Must be None for a model without text.
            drop_history: optional (B,) bool; True rows read BOS at every audio position
                (`embed_sequence`).

        Returns:
            (B, T, 2 * d_model): z_i = [h(x_{i-1}), h(v_i)]. For a LocDiT model (T a
            multiple of k) h(x_{i-1}) is h at the last audio token before i's patch; see
            `patch_conditions`.

        Thread-safety: stateless. Real-time safe: no.
        """
        if drop_vision is not None:
            null = self.null_token.to(vision_tokens.dtype)
            vision_tokens = torch.where(drop_vision[:, None, None], null, vision_tokens)
        h = self.transformer(self.embed_sequence(vision_tokens, latents, text_tokens,
                                                 drop_history))  # (B, 2T, D)
        if self.config.head_kind == "locdit":  # positions: see _embed_patches
            T, k = vision_tokens.shape[1], self.config.patch_latents
            t = torch.arange(T, device=h.device)
            p = t // k
            return torch.cat([h[:, 2 * p * k], h[:, 1 + 2 * p * k + t % k]], dim=-1)
        return torch.cat([h[:, 0::2], h[:, 1::2]], dim=-1)  # (B, T, 2D)

    def forward(self, vision_tokens: torch.Tensor, latents: torch.Tensor,
                drop_vision: torch.Tensor | None = None,
                text_tokens: torch.Tensor | None = None,
                drop_history: torch.Tensor | None = None) -> torch.Tensor:
        """Same as `forward_train` (so DDP and friends can call the module).

        Thread-safety: stateless. Real-time safe: no.
        """
        return self.forward_train(vision_tokens, latents, drop_vision, text_tokens, drop_history)

    def param_counts(self) -> dict[str, int]:
        """Parameters per part (vision, transformer incl. embeddings, head, vae_decoder, ...).

        Thread-safety: any thread. Real-time safe: no.
        """
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        emb = count(self.vision_in) + count(self.audio_in) + self.bos.numel()
        out = {"vision": count(self.vision), "transformer": count(self.transformer),
               "embeddings": emb + self.null_token.numel(), "head": count(self.head),
               "vae_encoder": count(self.vae.encoder), "vae_decoder": count(self.vae.decoder)}
        if self.text is not None:
            out["text"] = count(self.text)
        out["total"] = count(self)
        return out

    def guided_conditions(
        self, vision_tokens: torch.Tensor, latents: torch.Tensor, guidance_scale: float,
        text_tokens: torch.Tensor | None = None, text_scale: float = 1.0,
        history_scale: float = 1.0,
    ) -> torch.Tensor:
        """Offline equivalent of the streaming guided condition (cond and null batched).

        Without text: z_i = [h_cond(x_{i-1}), null + scale * (cond - null) at v_i]; with
        `history_scale` w_h != 1 a third row group (no history: BOS at every audio position)
        and `history_guidance.history_guided` on both halves.
        With text: three row groups, cond (video + text), null (neither) and video (video,
        null text), combined at v_i by `combine_guidance` (video scale `guidance_scale`, text
        scale `text_scale`). Returns (B, T, 2D).
        """
        check_history_guidance(history_scale, self.config)
        if self.text is not None:
            return self._guided_text(vision_tokens, latents, guidance_scale, text_tokens,
                                     text_scale)
        self._check_text_tokens(text_tokens, *vision_tokens.shape[:2])
        B = vision_tokens.shape[0]
        groups = 2 if history_scale == 1.0 else 3  # cond, null, (no history)
        group = torch.arange(groups * B, device=vision_tokens.device) // B
        z = self.forward_train(torch.cat([vision_tokens] * groups), torch.cat([latents] * groups),
                               drop_vision=group == 1,
                               drop_history=group == 2 if groups == 3 else None)  # (gB, T, 2D)
        D = self.config.transformer.d_model
        cond, null, nohist = z[:B], z[B:2 * B], z[2 * B:]
        z_a, z_v = cond[..., :D], apply_cfg(cond[..., D:], null[..., D:], guidance_scale)
        if groups == 3:
            z_a = history_guided(z_a, cond[..., :D], nohist[..., :D], history_scale)
            z_v = history_guided(z_v, cond[..., D:], nohist[..., D:], history_scale)
        return torch.cat([z_a, z_v], dim=-1)

    def _guided_text(self, vision_tokens, latents, guidance_scale, text_tokens, text_scale):
        from livefoley.models.spatial.text import combine_guidance

        B, T = vision_tokens.shape[:2]
        text_tokens = self._check_text_tokens(text_tokens, B, T)  # (B, T, D)
        null_text = self.text.null_token.expand(B, T, -1)
        drop = torch.arange(3 * B, device=vision_tokens.device) // B == 1  # (3B,): null rows
        z = self.forward_train(torch.cat([vision_tokens] * 3), torch.cat([latents] * 3),
                               drop_vision=drop,
                               text_tokens=torch.cat([text_tokens, null_text, null_text]))
        D = self.config.transformer.d_model
        cond, null, video = z[:B], z[B:2 * B], z[2 * B:]  # each (B, T, 2D)
        h_v = combine_guidance(null[..., D:], video[..., D:], cond[..., D:],
                               video_scale=guidance_scale, text_scale=text_scale)
        return torch.cat([cond[..., :D], h_v], dim=-1)

    # --- streaming path ------------------------------------------------------------------

    def new_cache(self, rows: int, device=None) -> KVCache:
        """A KV cache for `rows` streams (2 x sessions when guidance is on).

        Thread-safety: any thread. Real-time safe: no (allocates).
        """
        p = next(self.transformer.parameters())
        return self.transformer.new_cache(rows, device=device or p.device, dtype=p.dtype)

    def step_audio(self, latent: torch.Tensor | None, cache: KVCache,
                   history_rows: int = 0) -> torch.Tensor:
        """Feed x_{i-1} (B, latent_dim), or BOS when None, for every cache row -> (rows, D).

        The last `history_rows` rows read BOS always (the no-history rows of history
        guidance, `history_guidance.py`).

        Thread-safety: one thread per cache. Real-time safe: no growth (static cache).
        """
        rows = cache.batch_size
        if latent is None:
            h = self.bos.expand(rows, -1)  # (rows, D)
        else:
            h = self.audio_in(latent.to(self.audio_in.weight.dtype) * self.feedback_mask)  # (B, D)
            fed = rows - history_rows
            if h.shape[0] != fed:
                h = h.repeat(fed // h.shape[0], 1)  # (fed, D): same audio for cond and null
            if history_rows:
                h = torch.cat([h, self.bos.to(h.dtype).expand(history_rows, -1)])
        return self.transformer.step(h, cache)

    def step_vision(self, tokens: torch.Tensor, cache: KVCache,
                    text_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Feed v_i (rows, token_dim), plus text tokens (rows, D) if the model has text.

        Returns the transformer outputs (rows, D). `text_tokens` None on a model with text
        means the null token (no prompt).

        Thread-safety: one thread per cache. Real-time safe: no growth (static cache).
        """
        h = self.vision_in(tokens.to(self.vision_in.weight.dtype))  # (rows, D)
        if self.text is not None:
            if text_tokens is None:
                text_tokens = self.text.null_token.expand(h.shape[0], -1)
            h = h + text_tokens.to(h.dtype)
        elif text_tokens is not None:
            raise ConfigError(f"step_vision: expected no text tokens (config text_dim 0), "
                              f"found {tuple(text_tokens.shape)}")
        return self.transformer.step(h, cache)


def build_patch_head(cfg: ModelConfig):
    """The LocDiT patch head (`spatial/locdit.py`) sized by `cfg.locdit` and `cfg.head`."""
    from livefoley.models.spatial.locdit import LocDiT, LocDiTConfig

    p, h = cfg.locdit, cfg.head
    return LocDiT(LocDiTConfig(
        latent_dim=cfg.latent_dim, patch_latents=p.patch_latents,
        context_patches=p.context_patches, cond_dim=cfg.patch_cond_dim, width=p.width,
        depth=p.depth, heads=p.heads, mlp_ratio=p.mlp_ratio, time_embed_dim=p.time_embed_dim,
        sigma_data=h.sigma_data, sigma_min=h.sigma_min, sigma_max=h.sigma_max, rho=h.rho,
        seed=cfg.seed))


def build_model(cfg: ModelConfig) -> V2AModel:
    """A V2AModel with weights initialised deterministically from `cfg.seed`.

    Thread-safety: any thread (forks the global RNG). Real-time safe: no.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = V2AModel(cfg)
    log.info("built V2AModel: %.2fM parameters", sum(p.numel() for p in model.parameters()) / 1e6)
    return model.eval()
