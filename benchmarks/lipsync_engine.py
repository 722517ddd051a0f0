"""Wav2Lip-layout engine throughput: dubkit's batched engine against a straightforward per-frame loop.

Both run the same random-weight checkpoint (saved in the public format) on the same frames: a real clip
from ../shared/media, its faces from dubkit's tracker, synced to another clip's sound. The reference
loop does what the usual inference script does per frame: crop, one-face forward pass in float32, paste.
dubkit's engine batches faces (bf16 autocast on CUDA) with bounded memory. Also reported: the generator
alone on a large batch of faces (faces/s). Runs on CPU here; on a GPU (`--device cuda`) it is the
issue's >= 20x and >= 5,000 faces/s check.

    .venv/bin/python benchmarks/lipsync_engine.py [--device auto] [--frames 250] [--batch 64] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.backends.lipsync_wav2lip import Wav2LipSyncer, _crop, paste  # noqa: E402
from dubkit.lipsync import tracks  # noqa: E402
from dubkit.lipsync.wav2lip_net import LipSyncNet, mel_spectrogram, mel_window  # noqa: E402

CLIP, SOUND = "video/talking_heads/face_4.mp4", "video/talking_heads/face_1.mp4"


def random_checkpoint(directory: Path) -> Path:
    import torch

    torch.manual_seed(0)
    state = {f"module.{key}": value for key, value in LipSyncNet().state_dict().items()}
    path = directory / "random.pth"
    torch.save({"state_dict": state, "global_step": 0}, path)
    return path


def reference_loop(syncer: Wav2LipSyncer, frames: list, mel: np.ndarray, boxes: dict) -> float:
    """Per frame: crop, a batch of one in float32, paste. Returns frames per second."""
    import torch

    net, device = syncer._net, syncer._device
    started = time.perf_counter()
    for frame in frames:
        if frame.index not in boxes:
            continue
        face, region = _crop(frame.rgb, boxes[frame.index])
        masked = face.copy()
        masked[48:] = 0
        stacked = np.concatenate([masked, face], axis=2).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        with torch.no_grad():
            out = net(
                torch.from_numpy(mel_window(mel, frame.time_s)[None, None]).to(device),
                torch.from_numpy(stacked).to(device),
            )
        paste(frame.rgb, (out[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8), region)
    _sync(device)
    return len(frames) / (time.perf_counter() - started)


def engine(syncer: Wav2LipSyncer, frames: list, mel: np.ndarray, boxes: dict) -> float:
    started = time.perf_counter()
    for _ in syncer.frames(iter(frames), mel, boxes):
        pass
    _sync(syncer._device)
    return len(frames) / (time.perf_counter() - started)


def generator_only(syncer: Wav2LipSyncer, batch: int, repeats: int = 5) -> float:
    faces = np.random.default_rng(0).integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    mels = np.zeros((batch, 80, 16), np.float32)
    syncer.sync_faces(faces, mels)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        syncer.sync_faces(faces, mels)
    _sync(syncer._device)
    return batch * repeats / (time.perf_counter() - started)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clip = args.media / CLIP
    analysis = tracks.analyse(clip)
    speaker = max(analysis.tracks, key=lambda t: len(t.frames))
    boxes = {int(f): box for f, box in zip(speaker.frames, speaker.boxes, strict=True)}
    frames = [f for f in media.video_frames(clip)][: args.frames]
    mel = mel_spectrogram(media.decode_audio(args.media / SOUND, 16000, 1).reshape(-1))
    with tempfile.TemporaryDirectory() as tmp:
        syncer = Wav2LipSyncer(str(random_checkpoint(Path(tmp))), device=args.device, batch_size=args.batch)
        syncer.load()
        report = {
            "device": syncer._device,
            "frames": len(frames),
            "frame size": f"{frames[0].rgb.shape[1]}x{frames[0].rgb.shape[0]}",
            "reference loop frames/s": round(reference_loop(syncer, frames, mel, boxes), 1),
            "dubkit engine frames/s": round(engine(syncer, frames, mel, boxes), 1),
            f"generator faces/s (batch {args.batch * 4})": round(generator_only(syncer, args.batch * 4), 1),
        }
    report["engine / reference"] = round(report["dubkit engine frames/s"] / report["reference loop frames/s"], 2)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:<36} {value}")


if __name__ == "__main__":
    main()
