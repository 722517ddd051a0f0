"""A network whose `state_dict` has the layout of the public Wav2Lip checkpoints (names and shapes), and
its audio front-end. Imported only by `dubkit.backends.lipsync_wav2lip` (it needs torch).

Layout: every convolution is a `conv_block` (Conv2d or ConvTranspose2d, then BatchNorm2d) with a ReLU,
residual where the input and output shapes match. The face encoder takes 96x96 faces with 6 channels
(the frame with its lower half blanked, and a reference frame), the audio encoder an 80x16 mel window;
the decoder upsamples the audio embedding back to 96x96, joined at each scale with the encoder's
features. The audio front-end reproduces Wav2Lip's: 16 kHz, pre-emphasis 0.97, 800-point STFT with a
200-sample hop (80 frames/s), 80 Slaney mel bands 55-7600 Hz, dB scaled to [-4, 4]; each video frame
gets the 16 mel frames that start at its time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

FACE_SIZE = 96
MEL_BANDS = 80
MEL_FPS = 80.0
MEL_WINDOW = 16
SAMPLE_RATE = 16000

# (in, out, kernel, stride, padding, residual) per convolution; a list per block.
Stride = int | tuple[int, int]
ConvSpec = tuple[int, int, int, Stride, int, bool]
_FACE_ENCODER: Sequence[Sequence[ConvSpec]] = [
    [(6, 16, 7, 1, 3, False)],
    [(16, 32, 3, 2, 1, False), (32, 32, 3, 1, 1, True), (32, 32, 3, 1, 1, True)],
    [(32, 64, 3, 2, 1, False)] + [(64, 64, 3, 1, 1, True)] * 3,
    [(64, 128, 3, 2, 1, False)] + [(128, 128, 3, 1, 1, True)] * 2,
    [(128, 256, 3, 2, 1, False)] + [(256, 256, 3, 1, 1, True)] * 2,
    [(256, 512, 3, 2, 1, False), (512, 512, 3, 1, 1, True)],
    [(512, 512, 3, 1, 0, False), (512, 512, 1, 1, 0, False)],
]
_AUDIO_ENCODER: Sequence[ConvSpec] = [
    (1, 32, 3, 1, 1, False), (32, 32, 3, 1, 1, True), (32, 32, 3, 1, 1, True),
    (32, 64, 3, (3, 1), 1, False), (64, 64, 3, 1, 1, True), (64, 64, 3, 1, 1, True),
    (64, 128, 3, 3, 1, False), (128, 128, 3, 1, 1, True), (128, 128, 3, 1, 1, True),
    (128, 256, 3, (3, 2), 1, False), (256, 256, 3, 1, 1, True),
    (256, 512, 3, 1, 0, False), (512, 512, 1, 1, 0, False),
]  # fmt: skip
# Decoder blocks: an upsampling (in, out, stride, padding, output_padding) then residual convolutions.
_FACE_DECODER = [
    (None, 512, 0),  # a 1x1 convolution of the audio embedding
    ((1024, 512, 1, 0, 0), 512, 1),
    ((1024, 512, 2, 1, 1), 512, 2),
    ((768, 384, 2, 1, 1), 384, 2),
    ((512, 256, 2, 1, 1), 256, 2),
    ((320, 128, 2, 1, 1), 128, 2),
    ((160, 64, 2, 1, 1), 64, 2),
]


class Conv(nn.Module):
    """Convolution, batch norm, ReLU; the input added back when `residual`."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: Stride, padding: int, residual: bool) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class UpConv(nn.Module):
    """Transposed convolution, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, padding: int, output_padding: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 3, stride, padding, output_padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


class LipSyncNet(nn.Module):
    """faces (N, 6, 96, 96) in [0, 1] + mels (N, 1, 80, 16) → lower-face-synced faces (N, 3, 96, 96)."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(nn.Sequential(*(Conv(*c) for c in block)) for block in _FACE_ENCODER)
        self.audio_encoder = nn.Sequential(*(Conv(*c) for c in _AUDIO_ENCODER))
        self.face_decoder_blocks = nn.ModuleList(_decoder_block(*spec) for spec in _FACE_DECODER)
        self.output_block = nn.Sequential(Conv(80, 32, 3, 1, 1, False), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mels)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)


def _decoder_block(up: tuple | None, width: int, residuals: int) -> nn.Sequential:
    if up is None:
        return nn.Sequential(Conv(512, width, 1, 1, 0, False))
    return nn.Sequential(UpConv(*up), *(Conv(width, width, 3, 1, 1, True) for _ in range(residuals)))


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(80, frames) normalized log-mel of 16 kHz mono audio, 80 frames per second."""
    import librosa
    from scipy.signal import lfilter

    emphasized = lfilter([1.0, -0.97], [1.0], np.asarray(audio, dtype=np.float64))
    spectrum = np.abs(librosa.stft(y=emphasized, n_fft=800, hop_length=200, win_length=800))
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=800, n_mels=MEL_BANDS, fmin=55, fmax=7600)
    decibels = 20.0 * np.log10(np.maximum(1e-5, basis @ spectrum)) - 20.0
    return np.clip(8.0 * (decibels + 100.0) / 100.0 - 4.0, -4.0, 4.0).astype(np.float32)


def mel_window(mel: np.ndarray, time_s: float) -> np.ndarray:
    """The 16 mel frames that start at *time_s* (the last 16 near the end), shape (80, 16)."""
    start = int(MEL_FPS * time_s)
    start = min(max(start, 0), max(mel.shape[1] - MEL_WINDOW, 0))
    window = mel[:, start : start + MEL_WINDOW]
    if window.shape[1] < MEL_WINDOW:
        window = np.pad(window, ((0, 0), (0, MEL_WINDOW - window.shape[1])), constant_values=-4.0)
    return window
