"""livefoley.models: the streaming video-to-audio network (see README.md in this folder)."""

from .checkpoint import (
    SCHEMA_VERSION,
    load_checkpoint,
    load_model,
    read_checkpoint_config,
    save_checkpoint,
)
from .config import (
    PRESET_NAMES,
    PRESETS,
    SR,
    TINY,
    HeadConfig,
    ModelConfig,
    TransformerConfig,
    VAEConfig,
    get_preset,
)
from .generator import StreamingGenerator
from .head import DiffusionHead
from .kv_cache import KVCache
from .sampling import apply_cfg, consistency_sample, consistency_sigmas, heun_sample, karras_sigmas
from .transformer import CausalTransformer
from .v2a import V2AModel, build_model
from .vae import AudioVAE

__all__ = [
    "ModelConfig", "VAEConfig", "TransformerConfig", "HeadConfig", "PRESETS", "PRESET_NAMES",
    "TINY", "SR", "get_preset",
    "V2AModel", "build_model", "load_model", "save_checkpoint", "load_checkpoint",
    "read_checkpoint_config", "SCHEMA_VERSION",
    "StreamingGenerator", "CausalTransformer", "KVCache", "DiffusionHead", "AudioVAE",
    "heun_sample", "consistency_sample", "karras_sigmas", "consistency_sigmas", "apply_cfg",
]
