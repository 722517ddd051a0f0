"""Media I/O: the only module that opens containers (PyAV) or runs ffmpeg (through `dubkit.media.ffmpeg`).

Every input is probed first and must be a local file in a whitelisted container format; outputs
are written to a temporary sibling and renamed. Failures raise `MediaError(path, cause)`.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dubkit.errors import MediaError
from dubkit.fsutil import atomic_path
from dubkit.media import ffmpeg

if TYPE_CHECKING:
    from av.container import InputContainer

log = logging.getLogger(__name__)
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)

# PyAV/libavformat format name → the demuxer ffmpeg is told to use (nothing else is opened).
_SAME_NAME = ("avi", "mpeg", "mpegts", "flac", "ogg", "wav", "mp3", "aac")
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mov", "matroska,webm": "matroska", **{name: name for name in _SAME_NAME}}
IMAGES = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe"}
# Formats whose declared duration comes from an index/header, so a shorter payload means truncation.
_INDEXED = {"mov", "matroska", "avi", "wav", "flac"}
_MAGIC = (b"ftyp", b"\x1aE\xdf\xa3", b"RIFF", b"OggS", b"fLaC", b"ID3", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
_PLAYLIST = re.compile(rb"#EXTM3U|#EXT-X-|ffconcat|\[playlist\]|<smil", re.IGNORECASE)
_AUDIO_OUT = ("-c:a", "aac", "-b:a", "192k", "-ar", "48000")
_WAV_OUT = ("-c:a", "pcm_s16le")
_MP4_OUT = ("-movflags", "+faststart")
_LIMITER_TRIES = 6
_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p")


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` learns about a file. Absent streams leave their fields at 0 / ""."""

    path: Path
    format_name: str
    duration_s: float
    has_audio: bool
    has_video: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    sample_rate: int = 0
    channels: int = 0
    rotation: int = 0
    video_start_s: float = 0.0  # where the first picture shows, from the container's start (`origin_s`)

    @property
    def demuxer(self) -> str:
        return CONTAINERS.get(self.format_name, "image2" if self.format_name in IMAGES else "")


@dataclass(frozen=True)
class Frame:
    """One decoded picture: its index in presentation order, presentation time, RGB pixels (height, width, 3)
    turned upright, and when it is to be re-encoded (`media.splice`) its decoded YUV 4:2:0 planes as stored."""

    index: int
    time_s: float
    rgb: np.ndarray
    planes: np.ndarray | None = None


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float


def probe(path: Path, allow_image: bool = False) -> MediaInfo:
    """Read the container header with PyAV (no full decode); refuse non-whitelisted or truncated files."""
    import av

    path = Path(path).resolve()
    _sniff(path)
    try:
        container = av.open(ffmpeg.file_url(path), options={"protocol_whitelist": "file"})
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(path, _open_cause(path), str(exc)) from None
    with container:
        name = container.format.name
        if name not in CONTAINERS and not (allow_image and name in IMAGES):
            raise MediaError(path, f"not a supported media file (format {name!r} refused)")
        try:
            info = _describe(path, container)
            if name in CONTAINERS and CONTAINERS[name] in _INDEXED:
                _check_tail(path, container, info.duration_s)
        except av.FFmpegError as exc:
            raise MediaError(path, "truncated or corrupt", str(exc)) from None
    return info


def video_frames(
    path: Path, max_height: int = 0, planes: bool = False, only: Collection[int] | None = None
) -> Iterator[Frame]:
    """Decode the first video stream one frame at a time (memory stays flat), scaled to at most max_height;
    with *planes*, each frame also carries its unscaled YUV 4:2:0 planes (for re-encoding). With *only*,
    just those frame indices are converted and yielded (the others are decoded and dropped)."""
    import av

    info = probe(path)
    if not info.has_video:
        raise MediaError(info.path, "no video stream")
    size = _scaled(info, max_height)
    with open_input(info) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = origin_s(container)
        try:
            for index, frame in enumerate(container.decode(stream)):
                if only is not None and index not in only:
                    continue
                rgb = frame.to_ndarray(format="rgb24", **size)
                yuv = frame.to_ndarray(format="yuv420p") if planes else None
                yield Frame(index, _time_s(frame, origin), np.rot90(rgb, (info.rotation // 90) % 4), yuv)
        except av.FFmpegError as exc:
            raise MediaError(info.path, "truncated or corrupt", str(exc)) from None


def origin_s(container: InputContainer) -> float:
    """The container's start: time zero of its decoded audio (ffmpeg counts from it), and so of frame times. An
    MPEG-TS starts at 1.4 s or anywhere; an MP4 whose picture starts late (an edit list) starts with its sound."""
    return (container.start_time or 0) / 1_000_000


def _time_s(picture, origin: float) -> float:  # noqa: ANN001 - av.VideoFrame
    """A decoded picture's presentation time from the container's start."""
    return float(picture.time) - origin if picture.time is not None else 0.0


def open_input(info: MediaInfo):  # noqa: ANN201 - av.container.InputContainer
    """A probed file opened with PyAV: by `file:` URL, its whitelisted demuxer, no other protocol."""
    import av

    return av.open(ffmpeg.file_url(info.path), format=info.demuxer or None, options={"protocol_whitelist": "file"})


def _scaled(info: MediaInfo, max_height: int) -> dict[str, int]:
    """`to_ndarray` size arguments shrinking the picture to at most *max_height* (even sides); none to keep it."""
    if not max_height or not info.height or max_height >= info.height:
        return {}
    scale = max_height / info.height
    return {"width": 2 * round(info.width * scale / 2), "height": 2 * round(info.height * scale / 2)}


def video_span(path: Path, start_s: float, end_s: float, max_height: int = 0) -> Iterator[Frame]:
    """The frames shown from *start_s* to *end_s*, scaled to at most max_height; indices count from the span's
    first frame. Decoding starts at the keyframe before *start_s* (from the start where seeking fails)."""
    info = probe(path)
    if not info.has_video:
        raise MediaError(info.path, "no video stream")
    size = _scaled(info, max_height)
    pictures = _pictures_from(info, start_s, seek=True)
    first = next(pictures, None)
    if first is None or first[0] > start_s:  # overshot, or no keyframe after the seek (a TS has no index)
        pictures, first = _pictures_from(info, start_s, seek=False), None
    index = 0
    for time_s, picture in itertools.chain([first] if first is not None else [], pictures):
        if time_s >= end_s:
            break
        if time_s >= start_s:
            rgb = picture.to_ndarray(format="rgb24", **size)
            yield Frame(index, time_s, np.rot90(rgb, (info.rotation // 90) % 4))
            index += 1


def _pictures_from(info: MediaInfo, start_s: float, seek: bool) -> Iterator[tuple[float, Any]]:
    """(time from the container's start, decoded picture), from the keyframe before *start_s* when seeking."""
    import av

    with open_input(info) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = origin_s(container)
        try:
            if seek:
                container.seek(int(max(0.0, start_s + origin) / stream.time_base), stream=stream, backward=True)
            for picture in container.decode(stream):
                yield _time_s(picture, origin), picture
        except av.FFmpegError as exc:
            raise MediaError(info.path, "truncated or corrupt", str(exc)) from None


def stream_durations(path: Path) -> tuple[float | None, float | None]:
    """Seconds of the first video and the first audio stream (None: no such stream), from their headers or,
    failing that, their last packet."""
    info = probe(path)
    with open_input(info) as container:
        streams = (container.streams.video[:1] or [None])[0], (container.streams.audio[:1] or [None])[0]
        spans = []
        for stream in streams:
            if stream is None:
                spans.append(None)
            elif stream.duration and stream.time_base:
                spans.append(float(stream.duration * stream.time_base))
            else:
                spans.append(_demuxed_duration(container, stream))
    return spans[0], spans[1]


def _demuxed_duration(container: InputContainer, stream) -> float:  # noqa: ANN001 - av stream
    container.seek(0)
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * stream.time_base))
    start = float((stream.start_time or 0) * stream.time_base)
    return end - start


def write_video(frames: Iterable[np.ndarray], out: Path, fps: float, crf: int = 16) -> Path:
    """Encode RGB frames (even width and height) as an H.264 MP4 without audio, atomically."""
    from fractions import Fraction

    import av

    with atomic_path(Path(out), suffix=".mp4") as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for index, rgb in enumerate(frames):
            if index == 0:
                stream.height, stream.width = rgb.shape[:2]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
        container.mux(stream.encode())
    return Path(out)


def _sniff(path: Path) -> None:
    """Cheap checks before libavformat touches the file: existence, emptiness, text playlists."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except IsADirectoryError:
        raise MediaError(path, "is a directory, not a media file") from None
    except OSError as exc:
        raise MediaError(path, exc.strerror or str(exc)) from None
    if not head:
        raise MediaError(path, "empty file")
    if _PLAYLIST.search(head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]):
        raise MediaError(path, "a playlist, not a media file (refused)")


def _open_cause(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    looks_like_media = any(magic in head for magic in _MAGIC) or head[:1] == b"G"
    return "truncated or corrupt" if looks_like_media else "not a media file"


def _describe(path: Path, container: InputContainer) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    info = MediaInfo(path, container.format.name, _duration(container), audio is not None, video is not None)
    if video is not None:
        first = next(container.decode(video), None)  # one frame: checks decoding, gives the display rotation
        codec = video.codec_context
        rate = float(video.average_rate or video.guessed_rate or 0)
        rotation = int(first.rotation) if first is not None else 0
        info = replace(
            info,
            width=codec.width,
            height=codec.height,
            fps=rate,
            video_codec=codec.name,
            rotation=rotation,
            video_start_s=_start_s(video, container),
        )
    if audio is not None:
        codec = audio.codec_context
        info = replace(info, audio_codec=codec.name, sample_rate=codec.sample_rate, channels=codec.layout.nb_channels)
    return info


def _start_s(stream, container: InputContainer) -> float:  # noqa: ANN001 - av stream
    """Where *stream* starts, from the container's start, to the container clock's microsecond."""
    if stream.start_time is None:
        return 0.0
    return round(float(stream.start_time * stream.time_base) - origin_s(container), 6) + 0.0  # (+ 0.0: never -0.0)


def _duration(container: InputContainer) -> float:
    if container.duration:
        return container.duration / 1_000_000
    spans = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(spans, default=0.0)


def _check_tail(path: Path, container: InputContainer, duration_s: float) -> None:
    """Demux the last ~2 s: a container that declares more than its data holds is truncated."""
    if duration_s <= 0:
        return
    start = (container.start_time or 0) / 1_000_000
    end = start + duration_s
    container.seek(int(max(start, end - 2.0) * 1_000_000), backward=True)
    reached = start
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            reached = max(reached, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    if reached < end - max(0.5, 0.02 * duration_s):
        raise MediaError(path, f"truncated or corrupt (data ends at {reached:.2f} s of {duration_s:.2f} s)")


def _input(
    path: Path, *, need: str = "", allow_image: bool = False, pre: Sequence[str] = ()
) -> tuple[MediaInfo, list[str]]:
    """Probe *path* and return it with the ffmpeg arguments that open it; *need* is "audio" or "video"."""
    info = probe(path, allow_image=allow_image)
    if need == "audio" and not info.has_audio:
        raise MediaError(info.path, "no audio stream")
    if need == "video" and not info.has_video:
        raise MediaError(info.path, "no video stream")
    return info, ffmpeg.input_args(info.path, info.demuxer, pre)


def extract_audio(src: Path, out_wav: Path, rate: int = 16000, channels: int = 1) -> Path:
    """First audio stream → 16-bit WAV, aligned to the container's time zero (leading gaps filled)."""
    _, args = _input(src, need="audio")
    audio = ["-map", "0:a:0", "-vn", "-sn", "-dn", "-af", _resample(rate, channels), *_WAV_OUT]
    with ffmpeg.output(out_wav) as tmp:
        ffmpeg.run([*args, *audio, *ffmpeg.output_args(tmp, "wav")], Path(src))
    return Path(out_wav)


def decode_audio(path: Path, rate: int, channels: int) -> np.ndarray:
    """Decode the first audio stream to float32: shape (n,) when mono, (n, channels) otherwise."""
    _, args = _input(path, need="audio")
    audio = ["-map", "0:a:0", "-af", _resample(rate, channels), "-f", "f32le"]
    proc = ffmpeg.run([*args, *audio, "-protocol_whitelist", "pipe", "pipe:1"], Path(path))
    samples = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    return samples if channels == 1 else samples.reshape(-1, channels)


def _resample(rate: int, channels: int = 0) -> str:
    """Resample on the container timeline (leading gaps filled); a downmix averages channels (no clipping)."""
    layout = {0: "", 1: ":ochl=mono", 2: ":ochl=stereo"}.get(channels, f":ochl={channels}c")
    return f"aresample={int(rate)}:async=1:first_pts=0:rematrix_maxval=1{layout}"


def time_stretch(src_wav: Path, out_wav: Path, factor: float) -> Path:
    """Rubberband time stretch keeping pitch; factor > 1 = faster/shorter. Length is exactly n / factor."""
    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"stretch factor {factor} outside 0.25..4")
    info, args = _input(src_wav, need="audio")
    samples = round(info.duration_s * info.sample_rate / factor)
    stretch = f"rubberband=tempo={factor:.6f}:pitch=1:transients=smooth:window=standard:pitchq=quality"
    chain = f"{stretch},apad=whole_len={samples},atrim=end_sample={samples}"
    with ffmpeg.output(out_wav) as tmp:
        ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *_WAV_OUT, *ffmpeg.output_args(tmp, "wav")], info.path)
    return Path(out_wav)


def measure_loudness(wav: Path) -> Loudness:
    """EBU R128 integrated loudness, true peak and loudness range (ffmpeg's ebur128 summary)."""
    _, args = _input(wav, need="audio")
    return _ebur128(args, Path(wav))[0]


def _ebur128(args: list[str], path: Path) -> tuple[Loudness, float]:
    """(loudness, integrated gating threshold in LUFS) from one ebur128 pass."""
    proc = ffmpeg.run([*args, "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"], path)
    stderr = proc.stderr.decode("utf-8", "replace")
    summary = stderr.rpartition("Summary:")[2]
    keys = ("I", "Threshold", "LRA", "Peak")
    found = [re.search(rf"\b{key}:\s*(-?inf|-?[\d.]+)", summary) for key in keys]
    if not all(found):
        raise MediaError(path, "could not measure loudness", stderr)
    integrated, threshold, lra, peak = (float(match.group(1)) for match in found if match)
    return Loudness(integrated, peak, lra), threshold


def normalize_loudness(
    src_wav: Path, out_wav: Path, target_lufs: float = -16.0, true_peak_dbtp: float = -1.5
) -> Loudness:
    """Two-pass linear loudnorm to *target_lufs* with true peak ≤ *true_peak_dbtp*; 48 kHz WAV out.

    Pass one measures with ebur128 (loudnorm's own meter reads ~0.4 LU off on speech); pass two
    is loudnorm in linear mode fed those values. Where linear mode cannot keep the peak limit,
    gain + a 4x-oversampled limiter is used. The result is measured and returned; a MediaError
    is raised when it misses the target by more than 0.5 LU.
    """
    info, args = _input(src_wav, need="audio")
    before, threshold = _ebur128(args, info.path)
    if before.integrated_lufs <= -70.0:
        raise MediaError(info.path, "silent audio: cannot normalize loudness")
    with ffmpeg.output(out_wav) as tmp:
        result = None
        if before.true_peak_dbtp + target_lufs - before.integrated_lufs <= true_peak_dbtp:
            result = _linear_loudnorm(args, info.path, tmp, before, threshold, target_lufs, true_peak_dbtp)
        if result is None or not _on_target(result, target_lufs, true_peak_dbtp):
            log.info("%s: linear loudnorm refused or off target (%s); using gain + limiter", info.path.name, result)
            result = _gain_and_limit(args, info.path, tmp, before.integrated_lufs, target_lufs, true_peak_dbtp)
        if not _on_target(result, target_lufs, true_peak_dbtp):
            raise MediaError(info.path, f"loudness normalization missed the target ({result})")
    return result


def _linear_loudnorm(
    args: list[str], path: Path, tmp: Path, before: Loudness, threshold: float, target: float, peak: float
) -> Loudness | None:
    """Second pass: loudnorm linear mode with the measured values; None when ffmpeg went dynamic."""
    lra = min(50.0, max(7.0, before.loudness_range_lu + 1.0))
    measured = (
        f"measured_I={before.integrated_lufs}:measured_TP={before.true_peak_dbtp}"
        f":measured_LRA={max(before.loudness_range_lu, 0.1)}:measured_thresh={threshold}"
    )
    chain = f"loudnorm=I={target}:TP={peak}:LRA={lra}:{measured}:linear=true:print_format=json,aresample=48000"
    proc = ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *_WAV_OUT, *ffmpeg.output_args(tmp, "wav")], path)
    if _last_json(proc.stderr, path).get("normalization_type") != "linear":
        return None
    return measure_loudness(tmp)


def _on_target(result: Loudness, target_lufs: float, true_peak_dbtp: float, tolerance: float = 0.5) -> bool:
    return abs(result.integrated_lufs - target_lufs) <= tolerance and result.true_peak_dbtp <= true_peak_dbtp


def _gain_and_limit(args: list[str], path: Path, tmp: Path, input_lufs: float, target: float, peak: float) -> Loudness:
    """Static gain then a true-peak-safe limiter (at 192 kHz). The harder the limiter works the more loudness it
    takes back (peaky speech pushed to -14 LUFS: ~0.3 LU per dB of gain), so the gain is corrected along the
    secant through the last two tries, up to `_LIMITER_TRIES` passes."""
    gain = target - input_lufs
    result = Loudness(input_lufs, 0.0, 0.0)
    tried: list[tuple[float, float]] = []  # (gain dB, integrated LUFS)
    for _ in range(_LIMITER_TRIES):
        limit = 10 ** ((peak - 0.3) / 20)
        chain = (
            f"aresample=192000,volume={gain:.3f}dB,"  # latency=true: the limiter's 1 ms look-ahead is not a delay
            f"alimiter=limit={limit:.5f}:attack=1:release=50:level=false:latency=true,"
            "aresample=48000"
        )
        ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *_WAV_OUT, *ffmpeg.output_args(tmp, "wav")], path)
        result = measure_loudness(tmp)
        if _on_target(result, target, peak, tolerance=0.2):
            break
        tried.append((gain, result.integrated_lufs))
        gain = _next_gain(tried, target)
    return result


def _next_gain(tried: list[tuple[float, float]], target: float) -> float:
    """The gain (dB) that should reach *target*: along the slope of the last two tries (LU per dB, 0.1..1), else 1."""
    gain, lufs = tried[-1]
    slope = 1.0
    if len(tried) > 1 and tried[-2][0] != gain:
        slope = min(1.0, max(0.1, (lufs - tried[-2][1]) / (gain - tried[-2][0])))
    step = (target - lufs) / slope
    return gain + max(-12.0, min(12.0, step))


def _last_json(stderr: bytes, path: Path) -> dict[str, str]:
    text = stderr.decode("utf-8", "replace")
    start = text.rfind("{")
    try:
        return dict(json.loads(text[start : text.rfind("}") + 1]))
    except ValueError:
        raise MediaError(path, "could not read loudnorm measurement", text) from None


def mux(video_src: Path, audio_wav: Path, out: Path, language: str, duration_s: float | None = None) -> Path:
    """MP4 with *video_src*'s first video stream copied untouched and *audio_wav* as AAC 48 kHz 192k.

    *language* is an ISO 639-2 code (e.g. "spa"). The audio is padded/trimmed to *duration_s*
    (default: the source's duration); an audio-only source gives an audio-only MP4.
    """
    if not re.fullmatch(r"[a-z]{3}", language):
        raise ValueError(f"language must be an ISO 639-2 code such as 'spa', not {language!r}")
    video, video_args = _input(video_src)
    _, audio_args = _input(audio_wav, need="audio")
    total = video.duration_s if duration_s is None else float(duration_s)
    maps = ["-map", "0:v:0", "-c:v", "copy"] if video.has_video else []
    if video.has_video and total < video.duration_s - 1e-3:
        maps += ["-t", f"{total:.6f}"]
    chain = f"{_resample(48000)},apad=whole_dur={total:.6f},atrim=end={total:.6f}"
    audio = ["-map", "1:a:0", "-af", chain, *_AUDIO_OUT, "-metadata:s:a:0", f"language={language}"]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*video_args, *audio_args, *maps, *audio, *_MP4_OUT, *ffmpeg.output_args(tmp, "mp4")], video.path)
    return Path(out)


def still_video(image: Path, audio: Path, out: Path, fps: int = 25, size: tuple[int, int] | None = None) -> Path:
    """An H.264 + AAC MP4 showing *image* for the whole length of *audio*."""
    loop = ("-loop", "1", "-framerate", str(fps), "-pattern_type", "none")
    _, image_args = _input(image, allow_image=True, pre=loop)
    sound, audio_args = _input(audio, need="audio")
    scale = f"scale={size[0]}:{size[1]}" if size else "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    video = ["-map", "0:v:0", "-vf", f"{scale},setsar=1", *_X264, "-tune", "stillimage", "-r", str(fps)]
    sound_out = ["-map", "1:a:0", "-af", _resample(48000), *_AUDIO_OUT, "-t", f"{sound.duration_s:.6f}"]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*image_args, *audio_args, *video, *sound_out, *_MP4_OUT, *ffmpeg.output_args(tmp, "mp4")], audio)
    return Path(out)


def concat(inputs: Sequence[Path], out: Path, width: int, height: int, fps: float = 25.0) -> Path:
    """Join clips into one H.264 + AAC (48 kHz stereo) MP4, each scaled and padded to width x height."""
    if not inputs:
        raise ValueError("concat needs at least one input")
    args: list[str] = []
    parts: list[str] = []
    for index, path in enumerate(inputs):
        info, clip_args = _input(path, need="video")
        args += clip_args
        parts.append(_concat_part(index, info, width, height, fps))
    labels = "".join(f"[v{i}][a{i}]" for i in range(len(inputs)))
    graph = ";".join(parts) + f";{labels}concat=n={len(inputs)}:v=1:a=1[v][a]"
    encode = ["-filter_complex", graph, "-map", "[v]", "-map", "[a]", *_X264, *_AUDIO_OUT, *_MP4_OUT]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*args, *encode, *ffmpeg.output_args(tmp, "mp4")], Path(out))
    return Path(out)


def _concat_part(index: int, info: MediaInfo, width: int, height: int, fps: float) -> str:
    """Filter chains giving clip *index* a common size/rate and an audio track of the same length."""
    span = f"{info.duration_s:.6f}"
    video = (
        f"[{index}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p,"
        f"trim=end={span},setpts=PTS-STARTPTS[v{index}]"
    )
    source = f"[{index}:a:0]{_resample(48000)}" if info.has_audio else f"aevalsrc=0:s=48000:d={span}"
    audio = (
        f"{source},aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_dur={span},"
        f"atrim=end={span},asetpts=PTS-STARTPTS[a{index}]"
    )
    return f"{video};{audio}"
