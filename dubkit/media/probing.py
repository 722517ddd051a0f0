"""What a media file is, before anything decodes it: the container whitelist, `probe` and the inputs opened from it.

Every input is probed first and must be a local file in a whitelisted container format; a probed file is then
opened with PyAV (`open_input`) or handed to ffmpeg (`probed_input`), always by `file:` URL with its demuxer
pinned. Failures raise `MediaError(path, cause)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dubkit.errors import MediaError
from dubkit.media import ffmpeg

if TYPE_CHECKING:
    from av.container import InputContainer

# PyAV/libavformat format name → the demuxer ffmpeg is told to use (nothing else is opened).
_SAME_NAME = ("avi", "mpeg", "mpegts", "flac", "ogg", "wav", "mp3", "aac")
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mov", "matroska,webm": "matroska", **{name: name for name in _SAME_NAME}}
IMAGES = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe"}
# Formats whose declared duration comes from an index/header, so a shorter payload means truncation.
_INDEXED = {"mov", "matroska", "avi", "wav", "flac"}
_MAGIC = (b"ftyp", b"\x1aE\xdf\xa3", b"RIFF", b"OggS", b"fLaC", b"ID3", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
_PLAYLIST = re.compile(rb"#EXTM3U|#EXT-X-|ffconcat|\[playlist\]|<smil", re.IGNORECASE)


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


def origin_s(container: InputContainer) -> float:
    """The container's start: time zero of its decoded audio (ffmpeg counts from it), and so of frame times. An
    MPEG-TS starts at 1.4 s or anywhere; an MP4 whose picture starts late (an edit list) starts with its sound."""
    return (container.start_time or 0) / 1_000_000


def open_input(info: MediaInfo):  # noqa: ANN201 - av.container.InputContainer
    """A probed file opened with PyAV: by `file:` URL, its whitelisted demuxer, no other protocol."""
    import av

    return av.open(ffmpeg.file_url(info.path), format=info.demuxer or None, options={"protocol_whitelist": "file"})


def stream_durations(path: Path) -> tuple[float | None, float | None]:
    """Seconds of the first video and the first audio stream (None: no such stream), from their headers or,
    failing that, their last packet."""
    info = probe(path)
    with open_input(info) as container:
        streams = (container.streams.video[:1] or [None])[0], (container.streams.audio[:1] or [None])[0]
        spans: list[float | None] = []
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


def probed_input(
    path: Path, *, need: str = "", allow_image: bool = False, pre: Sequence[str] = ()
) -> tuple[MediaInfo, list[str]]:
    """Probe *path* and return it with the ffmpeg arguments that open it; *need* is "audio" or "video"."""
    info = probe(path, allow_image=allow_image)
    if need == "audio" and not info.has_audio:
        raise MediaError(info.path, "no audio stream")
    if need == "video" and not info.has_video:
        raise MediaError(info.path, "no video stream")
    return info, ffmpeg.input_args(info.path, info.demuxer, pre)


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
        sound = audio.codec_context
        info = replace(info, audio_codec=sound.name, sample_rate=sound.sample_rate, channels=sound.layout.nb_channels)
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
