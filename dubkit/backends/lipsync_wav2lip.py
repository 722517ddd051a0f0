"""Lip-sync backend: a Wav2Lip-layout network from a user-supplied checkpoint, batched, GPU when present.

`checkpoint` is a local file in the public Wav2Lip format (`{"state_dict": {...}}`, keys optionally
prefixed `module.`), read with `torch.load(weights_only=True)`; its sha256 is in the fingerprint.
LICENSE: the public Wav2Lip checkpoints (`wav2lip.pth`, `wav2lip_gan.pth`) are for research and
non-commercial use only; dubkit ships no weights. The faces come from dubkit's tracker (no detector
per frame); each face is cropped (chin included), resized to 96x96, its lower half regenerated from the
16 mel frames at its time, and pasted back through a feathered mask over the lower face only: every
other pixel of the frame is left as decoded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dubkit import media
from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, package_version
from dubkit.backends._torch import torch_device
from dubkit.errors import BackendUnavailable, ConfigError, one_line
from dubkit.lipsync.tracks import Analysis, Windows, eases, plan

log = logging.getLogger(__name__)

NAME = "lipsync/wav2lip"
CHIN_PAD = 0.1  # the crop reaches this fraction of the face height below the mesh's chin
FEATHER = 0.12  # fraction of the box over which the pasted mouth fades into the original


class Wav2LipSyncer:
    def __init__(self, checkpoint: str = "", device: str = "auto", batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ConfigError(f"{NAME}: batch_size must be ≥ 1, not {batch_size}")
        self.checkpoint, self.device, self.batch_size = checkpoint, device, batch_size
        self._net: Any = None
        self._device = "cpu"

    def fingerprint(self) -> dict[str, str]:
        return {
            "library": f"torch {package_version('torch')}",
            "model": "wav2lip-layout-2",  # 2: window edges fade in and out
            "weights": f"sha256:{file_sha256(self._path())}",
        }

    def load(self) -> None:
        if self._net is not None:
            return
        try:
            import torch

            from dubkit.lipsync.wav2lip_net import LipSyncNet
        except ImportError as exc:
            raise registry.unavailable(NAME, f"torch is missing ({exc})") from None
        path = self._path()
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - unpickling refusals and corrupt files have many types
            raise BackendUnavailable(NAME, f"{path}: not a weights-only checkpoint ({one_line(exc)})") from None
        net = LipSyncNet()
        state = saved.get("state_dict", saved) if isinstance(saved, dict) else {}
        state = {key.removeprefix("module."): value for key, value in state.items()}
        missing = sorted(set(net.state_dict()) - set(state))
        unexpected = sorted(set(state) - set(net.state_dict()))
        if missing or unexpected:
            raise BackendUnavailable(NAME, f"{path}: not a Wav2Lip checkpoint ({_key_report(missing, unexpected)})")
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BackendUnavailable(NAME, f"{path}: wrong shapes ({one_line(exc)})") from None
        self._device = torch_device(self.device, NAME)
        self._net = net.eval().to(self._device)
        log.info("%s loaded %s on %s", NAME, path, self._device)

    def close(self) -> None:
        self._net = None

    def sync(
        self,
        video: Path,
        frames: Iterator[media.Frame],
        audio: np.ndarray,
        rate: int,
        analysis: Analysis,
        windows: Windows,
    ) -> Iterator[np.ndarray]:
        """Each frame's picture: inside its track's windows the face re-synced to *audio*, else as it was."""
        from dubkit.audio import resample
        from dubkit.lipsync.wav2lip_net import SAMPLE_RATE, mel_spectrogram

        self.load()
        mel = mel_spectrogram(resample(np.asarray(audio, dtype=np.float32), rate, SAMPLE_RATE))
        boxes = {frame: track.boxes[position] for frame, (track, position) in plan(analysis, windows).items()}
        return self.frames(frames, mel, boxes, eases(analysis, windows))

    def frames(  # noqa: ANN201
        self,
        frames: Iterator[media.Frame],
        mel: np.ndarray,
        boxes: Mapping[int, np.ndarray],
        strengths: Mapping[int, float] | None = None,
    ):
        """The frames, those with a box re-synced (pasted at their *strengths*, default 1), in order; batch_size
        frames in memory at most."""
        strengths = strengths or {}
        batch: list[media.Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == self.batch_size:
                yield from self._batch(batch, mel, boxes, strengths)
                batch = []
        yield from self._batch(batch, mel, boxes, strengths)

    def sync_faces(self, faces: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """(N, 96, 96, 3) uint8 faces + (N, 80, 16) mel windows → (N, 96, 96, 3) uint8 re-synced faces."""
        import torch

        self.load()
        masked = faces.copy()
        masked[:, faces.shape[1] // 2 :] = 0
        stacked = np.concatenate([masked, faces], axis=3).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        half = torch.bfloat16 if self._device.startswith("cuda") else None
        with torch.inference_mode(), torch.autocast(self._device.split(":")[0], half, enabled=half is not None):
            out = self._net(
                torch.from_numpy(mels[:, None]).to(self._device), torch.from_numpy(stacked).to(self._device)
            )
        pixels = out.float().permute(0, 2, 3, 1).cpu().numpy() * 255.0
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)

    def _batch(  # noqa: ANN202
        self,
        frames: Sequence[media.Frame],
        mel: np.ndarray,
        boxes: Mapping[int, np.ndarray],
        strengths: Mapping[int, float],
    ):
        from dubkit.lipsync.wav2lip_net import mel_window

        todo = [frame for frame in frames if frame.index in boxes]
        pasted: dict[int, np.ndarray] = {}
        if todo:
            crops = [_crop(frame.rgb, boxes[frame.index]) for frame in todo]
            faces = np.stack([face for face, _ in crops])
            synced = self.sync_faces(faces, np.stack([mel_window(mel, frame.time_s) for frame in todo]))
            for frame, (_, region), face in zip(todo, crops, synced, strict=True):
                pasted[frame.index] = paste(frame.rgb, face, region, strengths.get(frame.index, 1.0))
        for frame in frames:
            yield pasted.get(frame.index, frame.rgb)

    def _path(self) -> Path:
        if not self.checkpoint:
            raise ConfigError(f"{NAME}: set `checkpoint` to a Wav2Lip checkpoint file (none is shipped)")
        path = Path(self.checkpoint).expanduser()
        if not path.is_file():
            raise BackendUnavailable(NAME, f"checkpoint {path} does not exist")
        return path


def face_region(shape: tuple[int, ...], box: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel rows/columns (y0, y1, x0, x1) of a face box in fractions, the chin padded, inside the frame."""
    height, width = shape[:2]
    x0, y0, x1, y1 = box
    y1 = y1 + CHIN_PAD * (y1 - y0)
    return (
        max(0, int(y0 * height)),
        min(height, int(np.ceil(y1 * height))),
        max(0, int(x0 * width)),
        min(width, int(np.ceil(x1 * width))),
    )


def paste(rgb: np.ndarray, face: np.ndarray, region: tuple[int, int, int, int], strength: float = 1.0) -> np.ndarray:
    """*rgb* with *face* resized into *region*, blended by a feathered mask over the region's lower half (at
    *strength*: a window's edges fade between the frame's face and the network's)."""
    import cv2

    y0, y1, x0, x1 = region
    height, width = y1 - y0, x1 - x0
    resized = cv2.resize(face, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = strength * _lower_face_mask(height, width)[..., None]
    out = rgb.copy()
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(np.rint(alpha * resized + (1.0 - alpha) * patch), 0, 255).astype(np.uint8)
    return out


def _crop(rgb: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    import cv2

    from dubkit.lipsync.wav2lip_net import FACE_SIZE

    region = face_region(rgb.shape, box)
    y0, y1, x0, x1 = region
    face = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return face, region


def _lower_face_mask(height: int, width: int) -> np.ndarray:
    """1 over the lower half of the box, fading to 0 at its sides, bottom, and across its middle."""
    feather_y, feather_x = max(1.0, FEATHER * height), max(1.0, FEATHER * width)
    rows = np.arange(height, dtype=np.float32) + 0.5
    cols = np.arange(width, dtype=np.float32) + 0.5
    vertical = np.clip((rows - height / 2) / feather_y, 0, 1) * np.clip((height - rows) / feather_y, 0, 1)
    horizontal = np.clip(cols / feather_x, 0, 1) * np.clip((width - cols) / feather_x, 0, 1)
    return np.outer(vertical, horizontal)


def _key_report(missing: list[str], unexpected: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} keys missing, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
    return "; ".join(parts)
