"""livefoley.models.evaluation: sync, quality and stereo metrics, baselines, the eval runner."""

from livefoley.models.evaluation.frechet import frechet_distance
from livefoley.models.evaluation.onsets import (
    OnsetScore,
    audio_onsets,
    match_onsets,
    onset_envelope,
    onset_f_measure,
)
from livefoley.models.evaluation.spectral import log_mel_l1, mr_stft_distance
from livefoley.models.evaluation.stereo import ild_correlation
from livefoley.models.evaluation.sync import LagResult, onset_lag_ms

__all__ = ["frechet_distance", "OnsetScore", "audio_onsets", "match_onsets", "onset_envelope",
           "onset_f_measure", "log_mel_l1", "mr_stft_distance", "ild_correlation", "LagResult",
           "onset_lag_ms"]
