"""Smart rendering of H.264 video: re-encode only the pictures that change, copy every other packet as it was.

A lip-synced episode changes a few mouths in some shots; re-encoding the whole picture would cost time and
quality everywhere. Instead the stream is cut into spans: a span starts at a clean cut (every packet before
it is shown before every packet after it, so the copied part before it decodes on its own) and ends at an
IDR picture (nothing after it refers back). Only spans holding changed frames are decoded, edited and
re-encoded (x264, same profile, no B-frames, crf `X264["crf"]`); their pictures keep the source's
timestamps and the source's decode times, so timing (variable frame rates included) is unchanged. The
re-encoded pictures refer to their own parameter sets, with an id the source does not use, added to the
stream's `avcC` record next to the source's own. Every other packet, and so every frame outside the spans,
is bit-identical to the input. Inside a span, unchanged pixels are the decoded input re-encoded once;
changed pixels are composited into the decoded YUV planes, so nothing goes through RGB that did not change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import numpy as np

from dubkit.errors import MediaError
from dubkit.fsutil import atomic_path
from dubkit.media import h264
from dubkit.media.probing import open_input, origin_s, probe
from dubkit.media.video import Frame

log = logging.getLogger(__name__)

X264 = {"preset": "veryfast", "tune": "psnr", "crf": "8"}
# Besides X264, the re-encoded pictures carry the source's colour signalling (primaries, transfer, matrix, range),
# so a player converts them to RGB exactly as it converts the source's (a BT.709 source re-encoded untagged read
# 43 dB from itself through swscale, 51 dB plane for plane).
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
# FFmpeg's AVColor* enum values → x264's names (unspecified values are left out: x264 then writes none).
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020"}
TRANSFERS = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear", 13: "iec61966-2-1"}
TRANSFERS |= {14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67"}
MATRICES = {0: "GBR", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc"}
RANGES = {1: "tv", 2: "pc"}
PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main", "High": "high"}
PACKETS, INDEX = "packets.h264", "packets.json"


@dataclass(frozen=True)
class Span:
    """Packets [start, end) in decode order, re-encoded together. Decoding begins at the IDR *decode_from*."""

    start: int
    end: int
    decode_from: int


@dataclass(frozen=True)
class Layout:
    """The packets of an H.264 stream that can be spliced: their timestamps, IDR flags and decoder record."""

    path: Path
    pts: np.ndarray  # per packet, decode order, in time_base units
    dts: np.ndarray
    durations: np.ndarray
    idr: np.ndarray
    time_base: Fraction
    rate: Fraction
    size: tuple[int, int]  # coded width, height
    rotation: int
    profile: str
    record: h264.DecoderRecord
    parameter_id: int
    colour: str = ""  # x264-params signalling the source's colour (`colour_params`)

    @cached_property
    def presentation(self) -> np.ndarray:
        """Every packet's pts, in presentation order (frame index → pts)."""
        return np.sort(self.pts)

    @cached_property
    def rank(self) -> np.ndarray:
        """Frame index (presentation order) of each packet."""
        rank = np.empty(len(self.pts), dtype=np.int64)
        rank[np.argsort(self.pts, kind="stable")] = np.arange(len(self.pts))
        return rank

    @cached_property
    def clean(self) -> np.ndarray:
        """clean[k]: packets [0, k) are exactly frames [0, k) (so position k is a frame index too)."""
        prefix_max = np.concatenate([[-1], np.maximum.accumulate(self.rank)])
        return prefix_max == np.arange(len(self.pts) + 1) - 1

    def spans(self, frames: Iterable[int]) -> list[Span]:
        """The fewest spans that hold *frames*: each from the last clean cut before to the next IDR after."""
        cuts = np.flatnonzero(self.clean[:-1])
        ends = np.append(np.flatnonzero(self.idr & self.clean[:-1]), len(self.pts))
        idrs = np.flatnonzero(self.idr)
        spans: list[Span] = []
        for frame in sorted(set(frames)):
            if not 0 <= frame < len(self.pts) or (spans and frame < spans[-1].end):
                continue
            start = int(cuts[np.searchsorted(cuts, frame, side="right") - 1])
            end = int(ends[np.searchsorted(ends, frame, side="right")])
            spans.append(Span(start, end, int(idrs[np.searchsorted(idrs, start, side="right") - 1])))
        return spans


def layout(path: Path) -> Layout | None:
    """The splicing layout of *path*'s video, or None when it cannot be spliced (not 8-bit 4:2:0 H.264 in
    length-prefixed form, a profile x264 does not make, missing timestamps or no free parameter-set id)."""
    import av

    info = probe(path)
    with open_input(info) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        if context.name != "h264" or context.pix_fmt != "yuv420p" or context.profile not in PROFILES:
            return None
        if context.width % 2 or context.height % 2 or not context.extradata:
            return None
        try:
            record = h264.DecoderRecord.parse(context.extradata)
        except (ValueError, IndexError):
            return None
        fields: list[tuple[int, int, int, bool]] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None or packet.dts is None:
                    return None
                idr = packet.is_keyframe and h264.is_idr(bytes(packet), record.length_size)
                fields.append((packet.pts, packet.dts, packet.duration or 0, idr))
        except av.FFmpegError as exc:
            raise MediaError(info.path, "truncated or corrupt", str(exc)) from None
        free = record.free_id()
        pts = np.array([f[0] for f in fields], dtype=np.int64)
        if not fields or not fields[0][3] or free is None or len(np.unique(pts)) != len(pts):
            return None
        return Layout(
            path=info.path,
            pts=pts,
            dts=np.array([f[1] for f in fields], dtype=np.int64),
            durations=np.array([f[2] for f in fields], dtype=np.int64),
            idr=np.array([f[3] for f in fields], dtype=bool),
            time_base=stream.time_base,
            rate=stream.average_rate or Fraction(25),
            size=(context.width, context.height),
            rotation=info.rotation,
            profile=PROFILES[context.profile],
            record=record,
            parameter_id=free,
            colour=colour_params(context),
        )


def decode(spans: Sequence[Span], source: Layout) -> Iterator[Frame]:
    """The frames of *spans*, in order, each with its decoded YUV planes (for `encode`)."""
    import av

    starts = {span.decode_from: span for span in spans}
    with open_input(probe(source.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        context = stream.codec_context
        origin = origin_s(container)
        span: Span | None = None
        index = -1
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                index += 1
                span = starts.get(index, span)
                if span is None or index < span.decode_from:
                    continue
                yield from _wanted(context.decode(packet), span, source, origin)
                if index == span.end - 1:
                    yield from _wanted(context.decode(None), span, source, origin)
                    context.flush_buffers()
                    span = None
        except av.FFmpegError as exc:
            raise MediaError(source.path, "truncated or corrupt", str(exc)) from None


def _wanted(pictures: Iterable, span: Span, source: Layout, origin: float) -> Iterator[Frame]:
    """The decoded *pictures* inside *span*, timed from the container's start (*origin*), as `video_frames` times."""
    first, end = source.pts[span.start : span.end].min(), source.pts[span.start : span.end].max()
    for picture in pictures:
        if picture.pts is None or not first <= picture.pts <= end:
            continue
        index = int(np.searchsorted(source.presentation, picture.pts))
        rgb = np.rot90(picture.to_ndarray(format="rgb24"), (source.rotation // 90) % 4)
        yield Frame(index, float(picture.pts * source.time_base) - origin, rgb, picture.to_ndarray(format="yuv420p"))


def encode(edited: Iterable[tuple[Frame, np.ndarray]], span: Span, source: Layout, out: Path) -> Path:
    """Re-encode the frames of *span* (each decoded frame with its edited RGB) into *out* (a directory):
    length-prefixed samples in `packets.h264` and their sizes and parameter sets in `packets.json`."""
    import av

    out.mkdir(parents=True, exist_ok=True)
    encoder = _encoder(source)
    pts = np.sort(source.pts[span.start : span.end])
    sizes: list[int] = []
    keys: list[int] = []
    sets: dict[str, str] = {}
    with open(out / PACKETS, "wb") as samples:
        for position, (frame, rgb) in enumerate(_checked(edited, len(pts))):
            picture = av.VideoFrame.from_ndarray(_composited(frame, rgb, source.rotation), format="yuv420p")
            picture.pts = int(pts[position])
            for packet in encoder.encode(picture):
                sizes.append(_write_sample(bytes(packet), source, samples, sets))
                keys.append(int(packet.is_keyframe))
        for packet in encoder.encode(None):
            sizes.append(_write_sample(bytes(packet), source, samples, sets))
            keys.append(int(packet.is_keyframe))
    if len(sizes) != len(pts):
        raise MediaError(source.path, f"re-encoding gave {len(sizes)} pictures for {len(pts)} frames")
    (out / INDEX).write_text(json.dumps({"sizes": sizes, "keyframes": keys, **sets}))
    return out


def _checked(edited: Iterable[tuple[Frame, np.ndarray]], count: int) -> Iterator[tuple[Frame, np.ndarray]]:
    for position, pair in enumerate(edited):
        if position >= count:
            raise ValueError("more frames than the span holds")
        yield pair


def _write_sample(packet: bytes, source: Layout, samples, sets: dict[str, str]) -> int:  # noqa: ANN001
    """Annex B from x264 → a length-prefixed sample; parameter sets kept aside, AUDs and SEIs dropped."""
    kept = []
    for unit in h264.annex_b(packet):
        kind = h264.nal_type(unit)
        if kind in (h264.SPS, h264.PPS):
            sets.setdefault("sps" if kind == h264.SPS else "pps", unit.hex())
        elif kind not in (h264.AUD, h264.SEI):
            kept.append(unit)
    sample = h264.to_length_prefixed(kept, source.record.length_size)
    samples.write(sample)
    return len(sample)


def _encoder(source: Layout):  # noqa: ANN202 - av.CodecContext
    import av

    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = source.size
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = source.time_base
    encoder.framerate = source.rate
    params = ":".join(filter(None, (f"sps-id={source.parameter_id}:bframes=0", source.colour)))
    encoder.options = {**X264, "profile": source.profile, "x264-params": params}
    return encoder


def _composited(frame: Frame, rgb: np.ndarray, rotation: int) -> np.ndarray:
    """*frame*'s decoded planes with the pixels *rgb* changed replaced (converted to YUV only there)."""
    assert frame.planes is not None
    if rgb is frame.rgb:
        return frame.planes
    turns = -((rotation // 90) % 4)
    edited, original = np.rot90(rgb, turns), np.rot90(frame.rgb, turns)
    changed = np.any(edited != original, axis=2)
    if not changed.any():
        return frame.planes
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    y0, y1 = rows[0] // 2 * 2, (rows[-1] // 2 + 1) * 2
    x0, x1 = cols[0] // 2 * 2, (cols[-1] // 2 + 1) * 2
    patch = _yuv(np.ascontiguousarray(edited[y0:y1, x0:x1]))
    return _replaced(frame.planes, patch, changed[y0:y1, x0:x1], (y0, x0))


def _yuv(rgb: np.ndarray) -> np.ndarray:
    import av

    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()


def _replaced(planes: np.ndarray, patch: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Copy of 4:2:0 *planes* with *patch* (4:2:0, same layout) written where *mask*, at *origin* (even)."""
    out = planes.copy()
    (height, width), (y0, x0) = (planes.shape[0] * 2 // 3, planes.shape[1]), origin  # luma rows, columns
    h, w = mask.shape
    luma = out[:height]
    luma[y0 : y0 + h, x0 : x0 + w] = np.where(mask, patch[:h], luma[y0 : y0 + h, x0 : x0 + w])
    chroma_mask = mask.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
    for plane, patch_plane in zip(_chroma(out, height, width), _chroma(patch, h, w), strict=True):
        region = plane[y0 // 2 : (y0 + h) // 2, x0 // 2 : (x0 + w) // 2]
        region[...] = np.where(chroma_mask, patch_plane, region)
    return out


def _chroma(planes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Views of the U and V planes inside PyAV's stacked yuv420p array."""
    flat = planes.reshape(-1)
    quarter = (height // 2) * (width // 2)
    u = flat[height * width : height * width + quarter].reshape(height // 2, width // 2)
    v = flat[height * width + quarter : height * width + 2 * quarter].reshape(height // 2, width // 2)
    return u, v


def splice(source: Layout, encoded: Mapping[Span, Path], out: Path) -> Path:
    """MP4 of *source*'s video with each span's packets replaced by its re-encoded ones (no audio), atomically."""
    import av

    sets = {_parameter_sets(path) for path in encoded.values()}
    if len(sets) > 1:
        raise MediaError(source.path, "re-encoded spans disagree on their parameter sets")
    record = source.record.with_sets(*([bytes.fromhex(s)] for s in sets.pop())) if sets else source.record
    by_start = {span.start: (span, path) for span, path in encoded.items()}
    with (
        open_input(probe(source.path)) as container,
        atomic_path(Path(out), suffix=".mp4") as tmp,
        av.open(str(tmp), "w", format="mp4") as output,
    ):
        stream = container.streams.video[0]
        copy = output.add_stream_from_template(stream)
        copy.codec_context.extradata = record.to_bytes()
        index, skip_to = -1, 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            index += 1
            if index in by_start:
                span, path = by_start[index]
                for replacement in _replacements(span, path, source):
                    replacement.stream = copy
                    output.mux(replacement)
                skip_to = span.end
            if index < skip_to:
                continue
            packet.stream = copy
            output.mux(packet)
    return Path(out)


def reencode(source: Path, edited: Iterable[tuple[Frame, np.ndarray]], out: Path) -> Path:
    """For streams that cannot be spliced: every frame (decoded with its planes, unrotated, even-sized)
    composited and re-encoded to H.264 at its time (from the container's start), in an MP4 without audio,
    atomically."""
    import av

    info = probe(source)
    with open_input(info) as container:
        time_base, rate = container.streams.video[0].time_base, container.streams.video[0].average_rate
        colour = colour_params(container.streams.video[0].codec_context)
    with atomic_path(Path(out), suffix=".mp4") as tmp, av.open(str(tmp), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=rate or Fraction(25))
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.time_base = time_base
        stream.options = {**X264, "profile": "high", **({"x264-params": colour} if colour else {})}
        for frame, rgb in edited:
            picture = av.VideoFrame.from_ndarray(_composited(frame, rgb, 0), format="yuv420p")
            picture.pts, picture.time_base = round(frame.time_s / time_base), time_base
            output.mux(stream.encode(picture))
        output.mux(stream.encode())
    return Path(out)


def colour_params(context) -> str:  # noqa: ANN001 - av.VideoCodecContext
    """x264-params naming the colour a decoder reports for the source ('' when it reports none)."""
    found = (
        ("colorprim", PRIMARIES.get(int(context.color_primaries or 2))),
        ("transfer", TRANSFERS.get(int(context.color_trc or 2))),
        ("colormatrix", MATRICES.get(int(context.colorspace if context.colorspace is not None else 2))),
        ("range", RANGES.get(int(context.color_range or 0))),
    )
    return ":".join(f"{name}={value}" for name, value in found if value)


def _parameter_sets(directory: Path) -> tuple[str, str]:
    index = json.loads((directory / INDEX).read_text())
    return index["sps"], index["pps"]


def _replacements(span: Span, directory: Path, source: Layout) -> Iterator:
    """The re-encoded packets of *span*, timed with the source's presentation and decode times."""
    import av

    index = json.loads((directory / INDEX).read_text())
    sizes, keys = index["sizes"], index["keyframes"]
    order = np.argsort(source.pts[span.start : span.end], kind="stable")
    pts = source.pts[span.start : span.end][order]
    durations = source.durations[span.start : span.end][order]
    dts = np.minimum(np.sort(source.dts[span.start : span.end]), pts)
    if len(sizes) != len(pts):
        raise MediaError(directory, f"holds {len(sizes)} pictures, the span {len(pts)}")
    with open(directory / PACKETS, "rb") as samples:
        for position, size in enumerate(sizes):
            packet = av.Packet(samples.read(size))
            packet.pts, packet.dts = int(pts[position]), int(dts[position])
            packet.duration, packet.time_base = int(durations[position]), source.time_base
            packet.is_keyframe = bool(keys[position])
            yield packet
