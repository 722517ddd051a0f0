"""dubkit.media: probing, refusals with clear causes, stretch, loudness, mux, stills, concat."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.audio import read_wav, write_wav
from dubkit.errors import MediaError
from tests.media_fixtures import MEDIA, real, remuxed, rotated_copy

GRID = MEDIA / "video" / "grid" / "bbaf2n.mpg"
FACE = MEDIA / "video" / "talking_heads" / "face_1.mp4"
FASTSTART = MEDIA / "video" / "hard_cases" / "grid_3speakers_hard_cuts.mp4"  # moov before mdat
JFK = MEDIA / "audio" / "jfk" / "jfk.flac"


def sine_wav(
    path: Path, seconds: float = 2.0, freq: float = 440.0, amplitude: float = 0.3, rate: int = 48000, channels: int = 1
) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    write_wav(path, tone if channels == 1 else np.stack([tone] * channels, axis=1), rate, subtype="FLOAT")
    return path


def video_only(path: Path, frames: int = 25, size: int = 64) -> Path:
    """A tiny MPEG-4 video with no audio track, written with PyAV."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.full((size, size, 3), index * 8 % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def video_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(container.streams.video[0]) if packet.size]


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def assert_cause(path: Path, cause: str, call=media.probe) -> MediaError:  # type: ignore[no-untyped-def]
    with pytest.raises(MediaError) as info:
        call(path)
    assert cause in info.value.cause, info.value.cause
    assert "\n" not in str(info.value)
    return info.value


# --- probe -----------------------------------------------------------------------------------


def test_probe_grid_mpg() -> None:
    info = media.probe(real(GRID))
    assert (info.format_name, info.video_codec, info.audio_codec) == ("mpeg", "mpeg1video", "mp2")
    assert (info.width, info.height, info.fps) == (360, 288, 25.0)
    assert info.has_audio and info.has_video and info.rotation == 0
    assert info.sample_rate == 44100 and info.channels == 2
    assert info.duration_s == pytest.approx(3.0, abs=0.05)


def test_probe_talking_head_mp4() -> None:
    info = media.probe(real(FACE))
    assert info.demuxer == "mov" and info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (700, 700)
    assert 20 < info.fps <= 30
    assert info.duration_s == pytest.approx(6.13, abs=0.05)


def first_times(path: Path, count: int = 3) -> list[float]:
    frames = media.video_frames(path, max_height=32)
    return [frame.time_s for _, frame in zip(range(count), frames, strict=False)]


def test_times_count_from_the_containers_start(tmp_path: Path) -> None:
    """Every time counts from the container's start, the zero of decoded audio (ffmpeg counts from it): an MPEG-TS
    whose clock starts at 1.4 s shows its first picture at 0, as the original; face_1's picture, 33 ms after its
    sound (an edit list), at 0.033; the same picture copied alone starts its own container, at 0."""
    import av

    ts = remuxed(GRID, tmp_path / "grid.ts", "mpegts")
    with av.open(str(ts)) as container:
        assert container.start_time / 1e6 > 1.0  # the TS clock does start late
    assert first_times(ts) == pytest.approx([0.0, 0.04, 0.08]) and first_times(real(GRID)) == pytest.approx(
        first_times(ts)
    )
    assert media.probe(ts).video_start_s == pytest.approx(0.0, abs=1e-3)
    span = [frame.time_s for frame in media.video_span(ts, 1.0, 1.1, max_height=32)]
    assert span == pytest.approx([1.0, 1.04, 1.08])
    assert len(media.decode_audio(ts, 16000, 1)) == pytest.approx(len(media.decode_audio(GRID, 16000, 1)), abs=800)
    assert media.probe(real(FACE)).video_start_s == pytest.approx(0.033, abs=1e-3)
    assert first_times(FACE)[0] == pytest.approx(0.033, abs=1e-3)
    h264_ts = remuxed(FACE, tmp_path / "face.ts", "mpegts")  # a TS has no index: a seek lands past its 1st keyframe
    assert [frame.time_s for frame in media.video_span(h264_ts, 1.0, 1.1, max_height=32)] == pytest.approx(
        [t for t in first_times(h264_ts, 40) if 1.0 <= t < 1.1], abs=1e-3
    )
    alone = remuxed(FACE, tmp_path / "picture.mp4", "mp4", ("v",))
    assert media.probe(alone).video_start_s == pytest.approx(0.0, abs=1e-6)
    assert first_times(alone)[0] == pytest.approx(0.0, abs=1e-3)


def test_probe_reads_rotation(tmp_path: Path) -> None:
    out = rotated_copy(GRID, tmp_path / "rotated.mp4")
    assert abs(media.probe(out).rotation) == 90


def test_text_file_named_mp4_is_not_media(tmp_path: Path) -> None:
    fake = tmp_path / "movie.mp4"
    fake.write_text("this is a note, not a movie\n" * 20)
    assert_cause(fake, "not a media file")


@pytest.mark.parametrize("source", [FACE, FASTSTART], ids=["moov-at-end", "faststart"])
def test_truncated_mp4(tmp_path: Path, source: Path) -> None:
    data = real(source).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    assert_cause(half, "truncated or corrupt")


def test_hls_playlist_saved_as_mp4_is_refused(tmp_path: Path) -> None:
    playlist = tmp_path / "episode.mp4"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    assert_cause(playlist, "playlist")
    assert_cause(playlist, "playlist", lambda p: media.extract_audio(p, tmp_path / "out.wav"))
    assert not (tmp_path / "out.wav").exists()


def test_image_refused_unless_asked(tmp_path: Path) -> None:
    image = still_png(tmp_path / "face.png")
    assert_cause(image, "refused")
    assert media.probe(image, allow_image=True).width == 32


def test_missing_and_empty_files(tmp_path: Path) -> None:
    assert_cause(tmp_path / "nope.mp4", "not found")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_cause(tmp_path / "empty.mp4", "empty")


# --- audio -----------------------------------------------------------------------------------


def test_extract_audio_without_audio_stream(tmp_path: Path) -> None:
    clip = video_only(tmp_path / "silent.mp4")
    assert media.probe(clip).has_video
    assert_cause(clip, "no audio stream", lambda p: media.extract_audio(p, tmp_path / "out.wav"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.mp4"]


def test_option_like_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(real(GRID), tmp_path / "-rf.mp4")
    shutil.copy(real(GRID), tmp_path / "http:x.mp4")
    monkeypatch.chdir(tmp_path)
    for name in ("-rf.mp4", "http:x.mp4"):
        out = media.extract_audio(Path(name), Path(f"-{name}.wav"), rate=16000, channels=1)
        samples, rate = read_wav(out)
        assert rate == 16000 and samples.ndim == 1 and len(samples) == pytest.approx(48000, abs=1000)


def test_extract_audio_rate_channels(tmp_path: Path) -> None:
    out = media.extract_audio(real(FACE), tmp_path / "a.wav", rate=48000, channels=2)
    samples, rate = read_wav(out)
    assert rate == 48000 and samples.shape[1] == 2
    assert len(samples) / rate == pytest.approx(media.probe(FACE).duration_s, abs=0.1)


def test_decode_audio_round_trip(tmp_path: Path) -> None:
    wav = sine_wav(tmp_path / "s.wav", seconds=1.0, amplitude=0.5, channels=2)
    stereo = media.decode_audio(wav, 48000, 2)
    assert stereo.shape == (48000, 2) and stereo.dtype == np.float32
    np.testing.assert_allclose(stereo, read_wav(wav)[0], atol=1e-4)
    mono = media.decode_audio(wav, 16000, 1)
    assert mono.shape == (16000,) and np.abs(mono).max() == pytest.approx(0.5, abs=0.01)  # averaged, not summed


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_time_stretch_duration_and_pitch(tmp_path: Path, factor: float) -> None:
    wav = sine_wav(tmp_path / "tone.wav", seconds=3.0, freq=440.0)
    out = media.time_stretch(wav, tmp_path / "fast.wav", factor)
    samples, rate = read_wav(out)
    assert len(samples) / rate == pytest.approx(3.0 / factor, rel=0.01)
    assert dominant_hz(samples[rate // 2 : -rate // 2], rate) == pytest.approx(440.0, rel=0.02)


def test_measure_loudness_of_reference_tone(tmp_path: Path) -> None:
    # EBU Tech 3341 case 1: a 1 kHz stereo sine with -23 dBFS peaks reads -23 LUFS.
    wav = sine_wav(tmp_path / "ref.wav", seconds=5.0, freq=997.0, amplitude=10 ** (-23 / 20), channels=2)
    loudness = media.measure_loudness(wav)
    assert loudness.integrated_lufs == pytest.approx(-23.0, abs=0.2)
    assert loudness.true_peak_dbtp == pytest.approx(-23.0, abs=0.3)


@pytest.mark.parametrize(
    ("source", "target"), [(JFK, -16.0), (JFK, -24.0), (FACE, -16.0)], ids=["linear-16", "linear-24", "limiter-16"]
)  # face_1 at -16 would peak above 0 dBTP
def test_normalize_loudness_on_speech(tmp_path: Path, source: Path, target: float) -> None:
    speech = media.extract_audio(real(source), tmp_path / "speech.wav", rate=44100, channels=1)
    result = media.normalize_loudness(speech, tmp_path / "norm.wav", target_lufs=target, true_peak_dbtp=-1.5)
    measured = media.measure_loudness(tmp_path / "norm.wav")
    assert measured == result
    assert abs(measured.integrated_lufs - target) <= 0.5 and measured.true_peak_dbtp <= -1.5
    assert media.probe(tmp_path / "norm.wav").sample_rate == 48000


def test_normalize_silence_is_an_error(tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    write_wav(silent, np.zeros(48000, np.float32), 48000)
    assert_cause(silent, "silent", lambda p: media.normalize_loudness(p, tmp_path / "out.wav"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silence.wav"]


# --- video -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [GRID, FACE], ids=["mpeg1-in-ps", "h264-in-mp4"])
def test_mux_copies_video_and_tags_language(tmp_path: Path, source: Path) -> None:
    import av

    info = media.probe(real(source))
    dub = sine_wav(tmp_path / "dub.wav", seconds=info.duration_s - 0.7, rate=24000)  # short: gets padded
    out = media.mux(source, dub, tmp_path / "dubbed.mp4", language="spa")
    assert video_packets(out) == video_packets(source)
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        audio = container.streams.audio[0]
        assert audio.metadata.get("language") == "spa"
        assert (audio.codec_context.name, audio.codec_context.sample_rate) == ("aac", 48000)
        assert float(audio.duration * audio.time_base) == pytest.approx(info.duration_s, abs=1 / info.fps)
    assert media.probe(out).duration_s == pytest.approx(info.duration_s, abs=1 / info.fps)


def test_mux_audio_only_source(tmp_path: Path) -> None:
    original = sine_wav(tmp_path / "original.wav", seconds=2.0)
    dub = sine_wav(tmp_path / "dub.wav", seconds=2.5, freq=300.0)  # long: gets trimmed
    out = media.mux(original, dub, tmp_path / "dubbed.mp4", language="fre")
    info = media.probe(out)
    assert info.has_audio and not info.has_video
    assert info.duration_s == pytest.approx(2.0, abs=0.04)


def test_still_video_and_concat(tmp_path: Path) -> None:
    image = still_png(tmp_path / "face.png")
    voice = sine_wav(tmp_path / "voice.wav", seconds=1.5)
    still = media.still_video(image, voice, tmp_path / "still.mp4", fps=25, size=(64, 48))
    info = media.probe(still)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (64, 48, "h264", "aac")
    assert info.duration_s == pytest.approx(1.5, abs=0.08)
    episode = media.concat([still, real(GRID)], tmp_path / "episode.mp4", width=320, height=240, fps=25)
    joined = media.probe(episode)
    assert (joined.width, joined.height, joined.video_codec, joined.has_audio) == (320, 240, "h264", True)
    assert joined.duration_s == pytest.approx(1.5 + media.probe(GRID).duration_s, abs=0.1)


def test_no_temp_file_left_after_ffmpeg_failure(tmp_path: Path) -> None:
    clip = video_only(tmp_path / "clip.mp4")
    with pytest.raises(MediaError) as info:
        media.concat([clip], tmp_path / "out.mp4", width=63, height=47, fps=25)  # x264 refuses odd sizes
    assert info.value.stderr_tail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def still_png(path: Path, size: int = 32) -> Path:
    import av

    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = size
        stream.pix_fmt = "rgb24"
        image = np.zeros((size, size, 3), np.uint8)
        image[:, : size // 2] = 200
        container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path
