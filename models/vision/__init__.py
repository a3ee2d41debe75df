"""livefoley.models.vision: frames -> one vision token per frame (see README.md here)."""

from .aggregator import TemporalAggregator
from .checkpoint import (
    check_hf_config,
    detect_format,
    hf_to_meta,
    load_dinov2_weights,
    load_meta_state_dict,
    meta_to_hf,
    read_state_dict,
)
from .config import VISION_DINOV2_TEST, VISION_KINDS, VISION_SR, VISION_TINY, VisionConfig
from .dinov2 import DinoVisionTransformer
from .frontend import VisionEncoder, VisionFrontend, VisionState, build_vision_frontend
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, PIXEL_FORMATS, FramePreprocessor
from .tiny import TinyGridEncoder

__all__ = [
    "VisionConfig",
    "VISION_TINY",
    "VISION_SR",
    "VISION_DINOV2_TEST",
    "VISION_KINDS",
    "VisionFrontend",
    "VisionState",
    "VisionEncoder",
    "build_vision_frontend",
    "FramePreprocessor",
    "PIXEL_FORMATS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DinoVisionTransformer",
    "TinyGridEncoder",
    "TemporalAggregator",
    "load_dinov2_weights",
    "check_hf_config",
    "load_meta_state_dict",
    "read_state_dict",
    "detect_format",
    "hf_to_meta",
    "meta_to_hf",
]
