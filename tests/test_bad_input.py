"""Bad input: a one-line error naming the file and the cause, exit ≠ 0, no traceback, no output, cache intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clitools import cache_is_whole, dubkit


def _video_without_audio(path: Path) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(25):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _not_media(path: Path) -> Path:
    path.write_text("this is a dubbing script, not a video\n" * 20)
    return path


def _truncated(path: Path, shared: Path) -> Path:
    data = (shared / "video" / "talking_heads" / "face_1.mp4").read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _assert_clean_failure(done, name: str, cause: str, outdir: Path, cache: Path) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr
    assert name in lines[0] and cause in lines[0].lower(), lines[0]
    assert "Traceback" not in done.stderr
    assert not outdir.exists() or not any(outdir.iterdir())
    assert cache_is_whole(cache)


@pytest.mark.parametrize(
    ("maker", "cause"),
    [
        (_not_media, "not a media file"),
        (_video_without_audio, "no audio stream"),
    ],
)
def test_unusable_media(tmp_path, maker, cause):
    bad = maker(tmp_path / "episode.mp4")
    done = dubkit("translate", bad, "--to", "es", "-o", tmp_path / "out", cache=tmp_path / "cache")
    _assert_clean_failure(done, "episode.mp4", cause, tmp_path / "out", tmp_path / "cache")


def test_truncated_file(tmp_path, shared_media):
    bad = _truncated(tmp_path / "cut.mp4", shared_media)
    done = dubkit("translate", bad, "--to", "es", "-o", tmp_path / "out", cache=tmp_path / "cache")
    _assert_clean_failure(done, "cut.mp4", "truncated", tmp_path / "out", tmp_path / "cache")


def test_missing_file(tmp_path):
    done = dubkit("translate", tmp_path / "nope.mp4", "--to", "es", "-o", tmp_path / "out", cache=tmp_path / "c")
    _assert_clean_failure(done, "nope.mp4", "no such file", tmp_path / "out", tmp_path / "c")


@pytest.mark.parametrize("flag", ["--to", "--from"])
def test_unknown_language(tmp_path, shared_media, flag):
    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    args = ["--to", "xx"] if flag == "--to" else ["--to", "es", "--from", "qq"]
    done = dubkit("translate", clip, *args, "-o", tmp_path / "out", cache=tmp_path / "cache")
    _assert_clean_failure(done, "bbaf2n.mpg", "unknown language code", tmp_path / "out", tmp_path / "cache")


@pytest.mark.slow
def test_no_speech(tmp_path):
    import numpy as np

    from dubkit import audio, media

    still = tmp_path / "black.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(still)
    wav = tmp_path / "hum.wav"
    t = np.arange(48000 * 3) / 48000
    audio.write_wav(wav, (0.01 * np.sin(2 * np.pi * 60 * t)).astype(np.float32), 48000)
    quiet = tmp_path / "quiet.mp4"
    media.still_video(still, wav, quiet, fps=25)
    done = dubkit("translate", quiet, "--to", "es", "-o", tmp_path / "out", cache=tmp_path / "cache")
    _assert_clean_failure(done, "quiet.mp4", "no speech", tmp_path / "out", tmp_path / "cache")


def test_missing_asr_model_names_it(tmp_path, shared_media):
    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    missing = tmp_path / "no-such-model"
    done = dubkit(
        "translate", clip, "--to", "es", "--asr-model", missing, "-o", tmp_path / "out", cache=tmp_path / "cache"
    )
    _assert_clean_failure(done, "no-such-model", "", tmp_path / "out", tmp_path / "cache")
    assert done.returncode == 3
