"""Sound-effects embeddings from the aisfx package (for the Fréchet distance).

What it is: `AisfxEmbedder`, the 512-d embedding network of aisfx 0.1.2 (Ma et al., ISMIR 2022,
"X-Sequential-CE", trained on professional SFX libraries; CC BY 4.0) with its log-mel front
end re-implemented here in numpy, because the package's own front end needs essentia or
librosa 0.9.2 (neither is installed; aisfx is installed with --no-deps). The front end follows
`aisfx/spectrogram/spectrogram_librosa.py` and the inference constants in
`aisfx/inference.py`: mono, 44.1 kHz, peak-normalised per clip, Hann 2048 / hop 1024 power
spectrum, 96 HTK mel bands with unit-sum filters over 0-22050 Hz, log10(1e4 x + 1), divided by
9.4578 (the package's "original" min-max normalisation), cut into blocks of 100 frames
(~2.3 s). Blocks here hop 25 frames (~0.58 s), not the package's 50, to get more embeddings
from short held-out clips.

What it is not: VGGish/PANNs FAD (those need downloads); values are comparable only within
one evaluation run.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from livefoley.models.data.resample import resample_audio
from livefoley.models.evaluation.onsets import stft_magnitude, to_mono
from livefoley.models.evaluation.spectral import mel_filterbank
from livefoley.protocol.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

AISFX_SAMPLE_RATE_HZ = 44100
N_FFT, HOP = 2048, 1024
N_MELS = 96
BLOCK_FRAMES = 100
BLOCK_HOP_FRAMES = 25
SPEC_MAX = 9.457798957824707  # aisfx.preprocessing.spectrogram_normalize('original')
EMBEDDING_DIM = 512


def _aisfx_dir() -> Path:
    spec = importlib.util.find_spec("aisfx")
    if spec is None or spec.origin is None:
        raise ConfigError("aisfx: expected the package installed (pip install --no-deps "
                          "aisfx==0.1.2), found none")
    return Path(spec.origin).parent


def _load_cnn_module(aisfx_dir: Path):
    # Load aisfx/models/cnn2d.py alone: importing the package runs aisfx/__init__, which
    # imports tqdm and its librosa/essentia front ends that are not installed.
    name = "_livefoley_aisfx_cnn2d"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, aisfx_dir / "models" / "cnn2d.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def aisfx_log_mel(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """aisfx's normalised log-mel spectrogram of a clip: (frames, 96) float32."""
    x = to_mono(audio)
    if sample_rate_hz != AISFX_SAMPLE_RATE_HZ:
        x = resample_audio(x, sample_rate_hz, AISFX_SAMPLE_RATE_HZ).astype(np.float64)
    peak = np.max(np.abs(x)) if x.size else 0.0
    x = x / (peak if peak > 0 else 1.0)
    power = stft_magnitude(x, N_FFT, HOP) ** 2
    fb = mel_filterbank(AISFX_SAMPLE_RATE_HZ, N_FFT, N_MELS, f_min_hz=0.0, f_max_hz=22050.0,
                        htk=True)
    spec = np.log10(power @ fb.T * 1e4 + 1.0)
    return (spec / SPEC_MAX).astype(np.float32)


def blocks(spec: np.ndarray, block: int = BLOCK_FRAMES, hop: int = BLOCK_HOP_FRAMES) -> np.ndarray:
    """Cut (frames, bins) into (n, block, bins), zero-padding a clip shorter than one block."""
    if spec.shape[0] < block:
        spec = np.concatenate([spec, np.zeros((block - spec.shape[0], spec.shape[1]),
                                              spec.dtype)])
    starts = range(0, spec.shape[0] - block + 1, hop)
    return np.stack([spec[s:s + block] for s in starts])


class AisfxEmbedder:
    """aisfx embedding network with its bundled weights.

    Args:
        device: torch device.

    Raises:
        ConfigError: aisfx is not installed.
        CheckpointError: its bundled checkpoint is missing or does not fit the network.

    Thread-safety: one thread at a time (a torch module in eval mode).
    """

    def __init__(self, device: str = "cpu") -> None:
        root = _aisfx_dir()
        path = root / "models" / "checkpoint.pth"
        if not path.exists():
            raise CheckpointError(f"aisfx checkpoint: expected {path}, found no file")
        cnn = _load_cnn_module(root)
        # weights_only=False only for this one file: aisfx's own bundled checkpoint, installed
        # from PyPI with the package, pickles a (state_dict, {dataset: (np.int64, n)}) tuple
        # that the safe loader refuses (numpy scalars). It is never used for any other path.
        weights, _datasets = torch.load(path, map_location="cpu", weights_only=False)
        prefix = "embedding_net."
        state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        net = cnn.EmbeddingNet("max", 3, 1, 64)  # aisfx.inference.load_bestModel's arguments
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"aisfx checkpoint {path}: expected EmbeddingNet('max', 3, 1, "
                                  f"64) tensors, found a mismatch: {exc}") from None
        self.net = net.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def embed(self, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """Embeddings of one clip: (n_blocks, 512) float32, one per ~2.3 s block (hop 0.58 s)."""
        b = blocks(aisfx_log_mel(audio, sample_rate_hz))  # (n, 100, 96)
        out = self.net(torch.from_numpy(b).to(self.device))  # (n, 512)
        return out.cpu().numpy().astype(np.float32)
