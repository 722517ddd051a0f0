"""The Wav2Lip-layout network: random weights saved in the public checkpoint format, loaded, run on CPU."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from dubkit.errors import BackendUnavailable, ConfigError

RATE = 16000

# Names and shapes as in the public Wav2Lip generator checkpoints.
PUBLIC_LAYOUT = {
    "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
    "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
    "audio_encoder.0.conv_block.0.weight": (32, 1, 3, 3),
    "audio_encoder.12.conv_block.1.running_var": (512,),
    "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),
    "face_decoder_blocks.6.0.conv_block.0.weight": (160, 64, 3, 3),
    "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
    "output_block.1.weight": (3, 32, 1, 1),
}


@pytest.fixture(scope="module")
def torch():
    for module in ("torch", "librosa", "cv2"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install 'dubkit[lipsync,wav2lip]')")
    import torch

    return torch


@pytest.fixture(scope="module")
def checkpoint(torch, tmp_path_factory) -> Path:
    """Random weights, saved the way the public checkpoints are: DataParallel names, training bookkeeping."""
    from dubkit.lipsync.wav2lip_net import LipSyncNet

    torch.manual_seed(0)
    net = LipSyncNet()
    state = {f"module.{key}": value for key, value in net.state_dict().items()}
    path = tmp_path_factory.mktemp("wav2lip") / "wav2lip_random.pth"
    torch.save({"state_dict": state, "optimizer": None, "global_step": 0, "global_epoch": 0}, path)
    return path


def test_state_dict_has_the_public_layout(torch):
    from dubkit.lipsync.wav2lip_net import LipSyncNet

    net = LipSyncNet()
    state = net.state_dict()
    for key, shape in PUBLIC_LAYOUT.items():
        assert tuple(state[key].shape) == shape, key
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 1) == 36.3
    with torch.inference_mode():
        out = net.eval()(torch.zeros(2, 1, 80, 16), torch.zeros(2, 6, 96, 96))
    assert tuple(out.shape) == (2, 3, 96, 96)


def test_mel_front_end_matches_the_video_clock(torch):
    from dubkit.lipsync.wav2lip_net import mel_spectrogram, mel_window

    t = np.arange(RATE * 2) / RATE
    mel = mel_spectrogram((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    assert mel.shape[0] == 80 and abs(mel.shape[1] - 160) <= 1  # 80 frames per second
    assert mel.min() >= -4.0 and mel.max() <= 4.0
    assert mel_window(mel, 0.5).shape == (80, 16)
    assert np.array_equal(mel_window(mel, 0.5), mel[:, 40:56])
    assert mel_window(mel, 10.0).shape == (80, 16)  # past the end: the last window


def test_checkpoint_loads_and_is_fingerprinted(checkpoint):
    from dubkit.backends.lipsync_wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer(str(checkpoint), device="cpu")
    syncer.load()
    assert syncer.fingerprint()["weights"].startswith("sha256:")
    faces = np.random.default_rng(0).integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    out = syncer.sync_faces(faces, np.zeros((3, 80, 16), np.float32))
    assert out.shape == (3, 96, 96, 3) and out.dtype == np.uint8


def test_other_files_are_refused(torch, tmp_path):
    from dubkit.backends.lipsync_wav2lip import Wav2LipSyncer

    with pytest.raises(ConfigError, match="checkpoint"):
        Wav2LipSyncer().load()
    with pytest.raises(BackendUnavailable, match="does not exist"):
        Wav2LipSyncer(str(tmp_path / "none.pth")).load()
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"layer.weight": torch.zeros(2)}}, other)
    with pytest.raises(BackendUnavailable, match="not a Wav2Lip checkpoint"):
        Wav2LipSyncer(str(other)).load()
    hostile = tmp_path / "hostile.pth"
    hostile.write_bytes(
        pickle.dumps(Path("/etc/passwd"), protocol=2)
    )  # an object, not weights: weights_only refuses it
    with pytest.raises(BackendUnavailable, match="not a weights-only checkpoint"):
        Wav2LipSyncer(str(hostile)).load()


def test_a_paste_at_part_strength_lies_between_the_frame_and_the_face():
    """At a window's edges (`tracks.eases`) the network's face is pasted at part strength."""
    pytest.importorskip("cv2", reason="opencv is not installed (pip install 'dubkit[lipsync]')")
    from dubkit.backends.lipsync_wav2lip import paste

    frame = np.full((120, 100, 3), 200, np.uint8)
    face = np.full((96, 96, 3), 40, np.uint8)
    region = (10, 110, 10, 90)
    full, half = (paste(frame, face, region, strength).astype(float) for strength in (1.0, 0.5))
    assert np.array_equal(paste(frame, face, region, 0.0), frame)
    assert (full < 100).sum() > 1000 and np.abs(half - (full + frame) / 2).max() <= 1.0


@pytest.mark.slow
def test_a_clip_end_to_end_on_cpu(checkpoint, shared_media, tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    from dubkit import media
    from dubkit.backends.lipsync_wav2lip import Wav2LipSyncer, face_region
    from dubkit.lipsync import tracks
    from dubkit.lipsync.wav2lip_net import mel_spectrogram

    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    dub = media.decode_audio(shared_media / "video" / "grid" / "swiz3n.mpg", RATE, 1).reshape(-1)
    analysis = tracks.analyse(clip)
    speaker = max(analysis.tracks, key=lambda t: len(t.frames))
    boxes = {int(f): box for f, box in zip(speaker.frames, speaker.boxes, strict=True)}
    syncer = Wav2LipSyncer(str(checkpoint), device="cpu", batch_size=16)

    originals = list(media.video_frames(clip))
    synced = list(syncer.frames(iter(originals), mel_spectrogram(dub), boxes))
    assert len(synced) == len(originals) == len(analysis.times_s)
    changed = 0
    for frame, out in zip(originals, synced, strict=True):
        outside = np.ones(frame.rgb.shape[:2], bool)
        if frame.index in boxes:
            y0, y1, x0, x1 = face_region(frame.rgb.shape, boxes[frame.index])
            outside[(y0 + y1) // 2 : y1, x0:x1] = False  # only the lower half of the face may change
            changed += int(not np.array_equal(out[~outside], frame.rgb[~outside]))
        assert np.array_equal(out[outside], frame.rgb[outside])
    assert changed >= len(boxes) // 2

    windows = {speaker.id: [(0.0, 10.0)]}
    synced = syncer.sync(clip, media.video_frames(clip), dub, RATE, analysis, windows)
    written = media.write_video(synced, tmp_path / "synced.mp4", media.probe(clip).fps)
    info, source = media.probe(written), media.probe(clip)
    assert (info.width, info.height) == (source.width, source.height) and not info.has_audio
    assert sum(1 for _ in media.video_frames(written)) == len(originals)
