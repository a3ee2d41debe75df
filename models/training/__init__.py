"""livefoley.models.training: VAE, stage 1 (EDM2 diffusion) and stage 2 (ECT) training."""

from .loop import LoopConfig, run_loop
from .losses import (
    MultiResolutionSTFTLoss,
    ect_loss,
    ect_r,
    edm2_loss,
    kl_divergence,
    sample_log_normal_sigma,
)
from .runstate import RunDir, atomic_torch_save, atomic_write_bytes, load_training_state

__all__ = [
    "LoopConfig",
    "run_loop",
    "MultiResolutionSTFTLoss",
    "ect_loss",
    "ect_r",
    "edm2_loss",
    "kl_divergence",
    "sample_log_normal_sigma",
    "RunDir",
    "atomic_torch_save",
    "atomic_write_bytes",
    "load_training_state",
]
