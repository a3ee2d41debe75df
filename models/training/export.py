"""Exporting trained weights as a deployable V2A checkpoint, and folding the latent scale.

What it is:
- `save_model_atomic(model, path)`: `checkpoint.save_checkpoint` through a temporary file,
  fsync and rename, so a reader (the sidecar, `livefoley eval`) never sees a torn file.
- `fold_latent_scale(vae, factor)`: multiplies the encoder's mean channels by `factor` and
  divides the decoder's first conv by it. The decoder's first layer is linear in its input
  and zero-padded, so decode(factor * z) after folding equals decode(z) before it exactly;
  the encoder then emits latents with the std the diffusion head's preconditioning assumes
  (sigma_data), without a scale factor anywhere in the runtime path.

What it is not: a format; the file is the models package's checkpoint.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from livefoley.models.checkpoint import save_checkpoint
from livefoley.models.training.runstate import _fsync_dir
from livefoley.models.vae import AudioVAE
from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)


def save_model_atomic(model, path: str | os.PathLike) -> None:
    """Write a V2A checkpoint to `path` atomically (tmp + fsync + rename).

    Thread-safety: one writer per path. Real-time safe: no.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_checkpoint(model, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@torch.no_grad()
def fold_latent_scale(vae: AudioVAE, factor: float) -> None:
    """Scale the VAE's latent space by `factor` in place (see the module docstring).

    Raises:
        ConfigError: factor not finite and positive.
    """
    if not (factor > 0 and factor < float("inf")):
        raise ConfigError(f"fold_latent_scale: expected a finite factor > 0, found {factor}")
    out_conv = vae.encoder.layers[-1].conv  # (2L', C, k): mean channels first
    n = out_conv.weight.shape[0] // 2
    out_conv.weight[:n] *= factor
    out_conv.bias[:n] *= factor
    if vae.decoder.direction is not None:  # the closed-form direction dims (foa_latent.py)
        vae.encoder.direction_scale *= factor
        vae.decoder.direction.scale *= factor
    vae.decoder.layers[0].conv.weight /= factor  # (C, L, k)
    log.info("folded latent scale x%.4f into the VAE", factor)
