"""The video-to-audio network: vision front-end, causal transformer, head and audio VAE.

What it is: `V2AModel`, which owns the four parts, the token embeddings and the learned null
vision token for classifier-free guidance, and defines the token stream of SoundReactor
(arXiv 2510.02110, Fig. 2 and Algorithm 3):

    position:  0         1    2    3    4   ...  2i-2      2i-1
    token:     x_0=BOS   v_1  x_1  v_2  x_2 ...  x_{i-1}   v_i

The condition of frame i is z_i = [h(x_{i-1}), h(v_i)], the transformer outputs at the
previous-audio and current-vision positions. `forward_train` computes every z_i at once
(teacher forcing, causal sliding-window mask); `step_audio` / `step_vision` compute them one
token at a time on a `KVCache` and give the same numbers (tested).

What it is not: a sampler loop or a stream (see `generator.py`), or a loss (training issue).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from livefoley.models.config import ModelConfig
from livefoley.models.head import DiffusionHead
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
        D = cfg.transformer.d_model
        self.vision = build_vision_frontend(cfg.vision)
        self.vision_in = nn.Linear(cfg.vision.token_dim, D)
        self.audio_in = nn.Linear(cfg.latent_dim, D)
        self.bos = nn.Parameter(0.02 * torch.randn(D))
        # Null vision token in the vision front-end's output space: CFG training replaces the
        # whole vision sequence by it (SoundReactor Alg. 1, line 3).
        self.null_token = nn.Parameter(0.02 * torch.randn(cfg.vision.token_dim))
        self.transformer = CausalTransformer(cfg.transformer)
        h = cfg.head
        self.head = DiffusionHead(latent_dim=cfg.latent_dim, cond_dim=cfg.cond_dim,
                                  width=h.width, n_blocks=h.n_blocks,
                                  time_embed_dim=h.time_embed_dim, sigma_data=h.sigma_data,
                                  logvar_channels=h.logvar_channels, seed=cfg.seed)
        self.vae = AudioVAE(cfg.vae)

    # --- teacher-forced (offline) path -------------------------------------------------

    def embed_sequence(self, vision_tokens: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """Interleave [BOS, v_1, x_1, ..., x_{T-1}, v_T] as embeddings (B, 2T, d_model).

        Args:
            vision_tokens: (B, T, token_dim).
            latents: (B, T, latent_dim) clean latents x_1..x_T; x_T is not an input.
        """
        B, T, _ = vision_tokens.shape
        if latents.shape[:2] != (B, T) or latents.shape[2] != self.config.latent_dim:
            raise ConfigError(f"embed_sequence: expected latents of shape "
                              f"{(B, T, self.config.latent_dim)}, found {tuple(latents.shape)}")
        v = self.vision_in(vision_tokens)  # (B, T, D)
        a = self.audio_in(latents[:, :-1])  # (B, T-1, D)
        a = torch.cat([self.bos.expand(B, 1, -1), a], dim=1)  # (B, T, D): x_0..x_{T-1}
        return torch.stack([a, v], dim=2).flatten(1, 2)  # (B, 2T, D)

    def forward_train(
        self,
        vision_tokens: torch.Tensor,
        latents: torch.Tensor,
        drop_vision: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame head conditions z_i of a whole clip, teacher-forced and causal.

        Args:
            vision_tokens: (B, T, token_dim) from `self.vision`.
            latents: (B, T, latent_dim) clean latents of the clip.
            drop_vision: optional (B,) bool; True rows see the null token at every vision
                position (CFG training, and the null path of guidance).

        Returns:
            (B, T, 2 * d_model): z_i = [h(x_{i-1}), h(v_i)].

        Thread-safety: stateless. Real-time safe: no.
        """
        if drop_vision is not None:
            null = self.null_token.to(vision_tokens.dtype)
            vision_tokens = torch.where(drop_vision[:, None, None], null, vision_tokens)
        h = self.transformer(self.embed_sequence(vision_tokens, latents))  # (B, 2T, D)
        return torch.cat([h[:, 0::2], h[:, 1::2]], dim=-1)  # (B, T, 2D)

    def forward(self, vision_tokens: torch.Tensor, latents: torch.Tensor,
                drop_vision: torch.Tensor | None = None) -> torch.Tensor:
        """Same as `forward_train` (so DDP and friends can call the module).

        Thread-safety: stateless. Real-time safe: no.
        """
        return self.forward_train(vision_tokens, latents, drop_vision)

    def param_counts(self) -> dict[str, int]:
        """Parameters per part (vision, transformer incl. embeddings, head, vae_decoder, ...).

        Thread-safety: any thread. Real-time safe: no.
        """
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        emb = count(self.vision_in) + count(self.audio_in) + self.bos.numel()
        return {"vision": count(self.vision), "transformer": count(self.transformer),
                "embeddings": emb + self.null_token.numel(), "head": count(self.head),
                "vae_encoder": count(self.vae.encoder), "vae_decoder": count(self.vae.decoder),
                "total": count(self)}

    def guided_conditions(
        self, vision_tokens: torch.Tensor, latents: torch.Tensor, guidance_scale: float
    ) -> torch.Tensor:
        """Offline equivalent of the streaming guided condition (cond and null batched).

        z_i = [h_cond(x_{i-1}), null + scale * (cond - null) at v_i]; returns (B, T, 2D).
        """
        B = vision_tokens.shape[0]
        drop = torch.arange(2 * B, device=vision_tokens.device) >= B  # (2B,)
        z = self.forward_train(torch.cat([vision_tokens, vision_tokens]),
                               torch.cat([latents, latents]), drop_vision=drop)  # (2B, T, 2D)
        D = self.config.transformer.d_model
        cond, null = z[:B], z[B:]
        return torch.cat([cond[..., :D], apply_cfg(cond[..., D:], null[..., D:], guidance_scale)],
                         dim=-1)

    # --- streaming path ------------------------------------------------------------------

    def new_cache(self, rows: int, device=None) -> KVCache:
        """A KV cache for `rows` streams (2 x sessions when guidance is on).

        Thread-safety: any thread. Real-time safe: no (allocates).
        """
        p = next(self.transformer.parameters())
        return self.transformer.new_cache(rows, device=device or p.device, dtype=p.dtype)

    def step_audio(self, latent: torch.Tensor | None, cache: KVCache) -> torch.Tensor:
        """Feed x_{i-1} (B, latent_dim), or BOS when None, for every cache row -> (rows, D).

        Thread-safety: one thread per cache. Real-time safe: no growth (static cache).
        """
        rows = cache.batch_size
        if latent is None:
            h = self.bos.expand(rows, -1)  # (rows, D)
        else:
            h = self.audio_in(latent.to(self.audio_in.weight.dtype))  # (B, D)
            if h.shape[0] != rows:
                h = h.repeat(rows // h.shape[0], 1)  # (rows, D): same audio for cond and null
        return self.transformer.step(h, cache)

    def step_vision(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Feed v_i (rows, token_dim) -> transformer outputs (rows, D).

        Thread-safety: one thread per cache. Real-time safe: no growth (static cache).
        """
        return self.transformer.step(self.vision_in(tokens.to(self.vision_in.weight.dtype)), cache)


def build_model(cfg: ModelConfig) -> V2AModel:
    """A V2AModel with weights initialised deterministically from `cfg.seed`.

    Thread-safety: any thread (forks the global RNG). Real-time safe: no.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = V2AModel(cfg)
    log.info("built V2AModel: %.2fM parameters", sum(p.numel() for p in model.parameters()) / 1e6)
    return model.eval()
