"""livefoley.models.spatial: AmbiX FOA, head tracking, binaural, DoA, scenes, text, LocDiT (see README.md)."""

from .doa import ClipDoaError, DoaConfig, DoaTrack, analyse_doa, broadband_doa, clip_doa_error, great_circle_deg
from .foa import (ACN_CHANNELS, FUMA_CHANNELS, ambix_to_fuma, direction_to_unit, encode_mono, fuma_to_ambix,
                  omni_upmix, stereo_downmix, stereo_upmix, unit_to_direction, virtual_microphone)
from .metrics import LocalisationMetrics, TrackError, localisation_metrics, track_detections, track_error
from .rotation import (HeadTracker, euler_from_matrix, foa_rotation_matrix, head_tracking_matrix,
                       quaternion_from_euler, rotate_foa, rotation_matrix)
from .binaural import BinauralConfig, BinauralDecoder, decode_binaural, decoding_matrix, layout_directions
from .equirect import FACE_NAMES, cubemap_directions, cubemap_to_equirect, equirect_directions, pad_equirect
from .scene import Scene, SceneConfig, SourceSpec, describe_direction, generate_scene
from .sounds import SOUND_CLASSES, load_mono, synthesize
from .text import (BlockCrossfader, ConditionRamp, TextConditioner, TextEncoder, click_ratio, combine_guidance,
                   text_encoder_available)
from .locdit import LocDiT, LocDiTConfig, LocDiTStream
from .baselines import BASELINES, SpatialScores, evaluate_baselines, score_scenes
from .output import LAYOUT_CHANNELS, SpatialOutput
from .dataset import scene_from_shard, write_scene_dataset, write_scene_shard
from .augment import mirror_clip, rotate_clip_yaw, yaw_of_shift
from .adherence import AdherenceScore, class_centroids, clip_embedding, text_adherence
