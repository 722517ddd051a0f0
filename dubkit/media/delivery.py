"""Deliverables: one picture, several language-tagged audio tracks, subtitles and labelling tags, as MP4 or Matroska.

One ffmpeg run per file: the picture's first video stream copied untouched (trimmed to the episode's length), every
audio track AAC 48 kHz 192k padded or trimmed to that length, the first audio track marked default and the others
not, an SRT file as a subtitle track (mov_text in MP4, SubRip in Matroska; never default), and the given tags
at container level and per stream. Nothing is copied from the inputs' own metadata or chapters. MP4 keeps
arbitrary container keys (`-movflags use_metadata_tags`: an `mdta` metadata box) but of a stream's tags only its
`title` (the track's `name`), `handler_name` and language; Matroska keeps every tag, global and per track.
`tracks()` reads back what a file holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dubkit.errors import MediaError
from dubkit.media import ffmpeg
from dubkit.media.audio import resample_filter
from dubkit.media.muxing import AAC_OUT
from dubkit.media.probing import MediaInfo, open_input, probe, probed_input

VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
MUXERS = {"mp4": "mp4", "mkv": "matroska"}
SUBTITLE_CODECS = {"mp4": "mov_text", "mkv": "srt"}
# Matroska writes a random segment UID and the muxing date unless asked to be bit-exact: the same dub, the same bytes.
_FLAGS = {"mp4": ("-movflags", "+faststart+use_metadata_tags"), "mkv": ("-fflags", "+bitexact")}
_ISO639_2 = re.compile(r"[a-z]{3}")


@dataclass(frozen=True)
class Track:
    """A stream to add from *path* (a WAV for audio, an SRT for subtitles), its ISO 639-2 language and tags."""

    path: Path
    language: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What goes into a deliverable: *picture*'s first video stream (none for an audio-only file), the audio
    tracks in order (the first is the default), an optional subtitle track, container-level tags, the video
    stream's tags, and the length everything is cut or padded to."""

    picture: Path
    audio: tuple[Track, ...]
    duration_s: float
    subtitles: Track | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    video_tags: Mapping[str, str] = field(default_factory=dict)
    video_start_s: float | None = None  # where the first picture shows, from the sound's start (None: as in picture)


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a delivered file as read back: its kind, codec, default flag, language, name and tags."""

    kind: str
    codec: str
    default: bool
    language: str
    title: str  # Matroska's track name (`title`), MP4's (`name`, read back from the track's `udta`)
    tags: Mapping[str, str]


def deliver(delivery: Delivery, out: Path, container: str) -> Path:
    """Write *delivery* as *container* ("mp4" or "mkv") to *out*, atomically."""
    if container not in MUXERS:
        raise ValueError(f"container must be one of {', '.join(MUXERS)}, not {container!r}")
    if not delivery.audio:
        raise ValueError("a delivery needs at least one audio track")
    for track in (*delivery.audio, *([delivery.subtitles] if delivery.subtitles else [])):
        if not _ISO639_2.fullmatch(track.language):
            raise ValueError(f"language must be an ISO 639-2 code such as 'spa', not {track.language!r}")
    picture = probe(delivery.picture)
    inputs = _picture_input(picture, delivery.video_start_s)
    for track in delivery.audio:
        inputs += probed_input(track.path, need="audio")[1]
    subtitles = delivery.subtitles if delivery.subtitles and _has_cues(delivery.subtitles.path) else None
    if subtitles is not None:
        inputs += ffmpeg.input_args(subtitles.path, "srt")
    streams = [
        *_video_args(delivery, picture.has_video, picture.duration_s),
        *_audio_args(delivery),
        *(_subtitle_args(subtitles, len(delivery.audio) + 1, container) if subtitles else []),
    ]
    tags = [arg for key, value in delivery.tags.items() for arg in ("-metadata", f"{key}={value}")]
    untouched = ["-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1"]
    with ffmpeg.output(out) as tmp:
        args = [*inputs, *streams, *untouched, *tags, *_FLAGS[container], *ffmpeg.output_args(tmp, MUXERS[container])]
        ffmpeg.run(args, picture.path)
    return Path(out)


def _picture_input(picture: MediaInfo, start_s: float | None) -> list[str]:
    """Arguments opening *picture* so its first frame shows at *start_s* from the audio's start. ffmpeg counts each
    input from its own start: a picture cut from its sound (the lip-synced video alone) would lose where it began
    (an MP4 whose sound leads by an edit list, an MPEG-TS whose streams start apart), a frame or more out of sync."""
    shift = 0.0 if start_s is None or not picture.has_video else start_s - picture.video_start_s
    return ffmpeg.input_args(picture.path, picture.demuxer, ("-itsoffset", f"{shift:.6f}") if abs(shift) > 1e-4 else ())


def _video_args(delivery: Delivery, has_video: bool, source_s: float) -> list[str]:
    if not has_video:
        return []
    args = ["-map", "0:v:0", "-c:v", "copy", "-disposition:v:0", "default", *_stream_tags("v:0", delivery.video_tags)]
    if delivery.duration_s < source_s - 1e-3:
        args += ["-t", f"{delivery.duration_s:.6f}"]
    return args


def _audio_args(delivery: Delivery) -> list[str]:
    """Each audio input resampled to 48 kHz, padded or trimmed to the delivery's length, AAC, tagged."""
    total = f"{delivery.duration_s:.6f}"
    args: list[str] = []
    for index, track in enumerate(delivery.audio):
        chain = f"{resample_filter(48000)},apad=whole_dur={total},atrim=end={total}"
        args += ["-map", f"{index + 1}:a:0", f"-filter:a:{index}", chain]
        args += [f"-disposition:a:{index}", "default" if index == 0 else "0"]
        args += _stream_tags(f"a:{index}", {"language": track.language, **track.tags})
    return [*args, *AAC_OUT]


def _subtitle_args(track: Track, input_index: int, container: str) -> list[str]:
    return [
        "-map",
        f"{input_index}:s:0",
        "-c:s",
        SUBTITLE_CODECS[container],
        "-disposition:s:0",
        "0",
        *_stream_tags("s:0", {"language": track.language, **track.tags}),
    ]


def _stream_tags(specifier: str, tags: Mapping[str, str]) -> list[str]:
    return [arg for key, value in tags.items() for arg in (f"-metadata:s:{specifier}", f"{key}={value}")]


def _has_cues(srt: Path) -> bool:
    """An SRT with at least one cue (ffmpeg refuses an empty one)."""
    try:
        return bool(Path(srt).read_text(encoding="utf-8-sig").strip())
    except FileNotFoundError:
        raise MediaError(Path(srt), "file not found") from None


def tracks(path: Path) -> tuple[Mapping[str, str], tuple[StreamInfo, ...]]:
    """(container-level tags, the streams in order) of a media file, read with PyAV."""
    import av

    info = probe(path)
    with open_input(info) as container:
        streams = tuple(
            StreamInfo(
                kind=stream.type,
                codec=stream.codec_context.name,
                default=bool(stream.disposition & av.stream.Disposition.default),
                language=stream.metadata.get("language", ""),
                title=stream.metadata.get("title") or stream.metadata.get("name", ""),
                tags=dict(stream.metadata),
            )
            for stream in container.streams
        )
        return dict(container.metadata), streams
