"""The shipped default model beats the shuffled baseline on onset F-measure on fresh game audio.

The clip is recorded here with ViZDoom on a held-out map (Freedoom 2 MAP21-MAP28 and odd seeds
are never in training; models/data/generate.py) so the test does not depend on a dataset.
"""

from pathlib import Path

import numpy as np
import pytest

from livefoley.models.checkpoint import load_checkpoint
from livefoley.models.evaluation.baselines import shuffled_audio
from livefoley.models.evaluation.modelfn import model_generate_fn
from livefoley.models.evaluation.onsets import audio_onsets, onset_f_measure

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "weights" / "default.safetensors"
MAX_BYTES = 50 * 2**20


def test_default_model_file_is_small_and_loads():
    assert DEFAULT.stat().st_size <= MAX_BYTES, DEFAULT.stat().st_size
    assert load_checkpoint(DEFAULT).config.sample_rate_hz == 48000


@pytest.mark.slow
def test_default_model_beats_shuffled_onsets_on_a_heldout_clip():
    recorder = pytest.importorskip("livefoley.models.data.recorder")
    from livefoley.models.data.resample import resample_audio

    recorder.check_audio_backend()
    spec = recorder.RecordSpec(scenario="freedoom2:MAP23", seed=12345, agent="aggressive",
                               n_tics=350, resolution="160x120")
    rec = recorder.record(spec)
    real = resample_audio(rec.audio, recorder.GAME_SAMPLE_RATE_HZ, 48000)  # (N, 2) float32
    generate, _ = model_generate_fn(str(DEFAULT), sample_rate_hz=48000, seed=0)
    gen = np.asarray(generate(rec.frames, recorder.GAME_FPS))
    n = min(len(gen), len(real))
    real, gen = real[:n], gen[:n]
    ref = audio_onsets(real, 48000)
    assert len(ref) >= 5, f"expected an eventful clip, found {len(ref)} onsets"
    model_f = onset_f_measure(ref, audio_onsets(gen, 48000)).f_measure
    shuffled_f = onset_f_measure(ref, audio_onsets(shuffled_audio([real], 0), 48000)).f_measure
    assert model_f > shuffled_f, (model_f, shuffled_f)
