"""Pictures in and out with PyAV: a video decoded frame by frame (or a span of it) into RGB arrays, and RGB
arrays encoded as an H.264 MP4. Frame times count from the container's start (`origin_s`), as ffmpeg's do."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.errors import MediaError
from dubkit.fsutil import atomic_path
from dubkit.media.probing import MediaInfo, open_input, origin_s, probe


@dataclass(frozen=True)
class Frame:
    """One decoded picture: its index in presentation order, presentation time, RGB pixels (height, width, 3)
    turned upright, and when it is to be re-encoded (`media.splice`) its decoded YUV 4:2:0 planes as stored."""

    index: int
    time_s: float
    rgb: np.ndarray
    planes: np.ndarray | None = None


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


def _time_s(picture, origin: float) -> float:  # noqa: ANN001 - av.VideoFrame
    """A decoded picture's presentation time from the container's start."""
    return float(picture.time) - origin if picture.time is not None else 0.0


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


def sampled_frames(path: Path, every_s: float, max_height: int = 0, gray: bool = False) -> Iterator[Frame]:
    """About one frame every *every_s* seconds (the first decoded at or after each multiple of it), scaled to at most
    max_height. The decoder skips the frames no other frame refers to (an H.264 or HEVC video's unreferenced B
    frames: a quarter to a third of the decoding), so a Frame's index is counted from its time and the frame rate.
    The decoder skips deblocking too: it smooths only faint steps at block borders (a frame differs by about one
    level of 255 on average). *gray*: `Frame.rgb` holds the luma alone (height, width; 0–255), a fifth of the cost
    of converting to RGB."""
    import av
    from av.video.reformatter import VideoReformatter

    info = probe(path)
    if not info.has_video:
        raise MediaError(info.path, "no video stream")
    size = _scaled(info, max_height)
    reformatter = VideoReformatter()  # one scaler for all the frames (`to_ndarray` sets one up per frame)
    with open_input(info) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"
        stream.codec_context.options = {"skip_loop_filter": "all"}  # deblocking: a seventh of the decoding
        origin, mark = origin_s(container), 0.0
        try:
            for picture in container.decode(stream):
                time_s = _time_s(picture, origin)
                if time_s + 1e-6 < mark:
                    continue
                rgb = reformatter.reformat(picture, format="gray" if gray else "rgb24", **size).to_ndarray()
                yield Frame(round(time_s * (info.fps or 25.0)), time_s, np.rot90(rgb, (info.rotation // 90) % 4))
                mark = (time_s // every_s + 1) * every_s
        except av.FFmpegError as exc:
            raise MediaError(info.path, "truncated or corrupt", str(exc)) from None
