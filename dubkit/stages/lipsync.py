"""The picture's edits: the speaking face of each dubbed line re-animated to the dub (lip-sync), and subtitles
burned into the source erased or replaced by the dub's (`[hardsubs] mode`); the rest of the picture untouched.

The picture is analysed once per source (shots, face tracks: cached as JSON). Each line's speaker is
the track whose mouth follows the *original* speech best in that line's span; that track's mouth is
then re-animated in the line's span (extended to where the dubbed line ends) to follow the dubbed
dialogue. A video without a face, or lines whose speaker is not in the picture, keep their frames.

An H.264 source is spliced (`dubkit.media.splice`): only the spans of packets that hold edited frames are
decoded and re-encoded (both edits in one pass), each cached on its own, keyed by the dubbed audio of the windows
it shows and the subtitles it erases or sets. An edited line re-renders only the spans its window and its
subtitle touch; every other packet is copied bit for bit. Other codecs are re-encoded whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from dubkit import audio, media
from dubkit.backends.base import LipSyncer
from dubkit.cache import Build, Key
from dubkit.hardsubs import edit
from dubkit.job import Artefact, Job, LineFit
from dubkit.lipsync import faces, sync, tracks
from dubkit.media import h264, splice
from dubkit.script import Segment
from dubkit.stages import hardsubs, ingest
from dubkit.stages.base import Context
from dubkit.subtitles import layout

log = logging.getLogger(__name__)

NAME = "lipsync"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
ANALYSIS_CODE = (tracks, faces, sync, media)  # the modules that find a source's shots, face tracks and speakers
RATE = 16000
LEAD_S = 0.2  # a line's window opens this much before it: the lips part before the sound, and the actor's own
# mouth, still moving from before, fades into the re-animated one (`tracks.eases`) before the line's first syllable
TAIL_S = 0.2  # the mouth closes in this much time after a line
AUDIO_MARGIN_S = 0.25  # engines may look this far beyond a window's audio (Wav2Lip's mel window is 0.2 s)


def run(job: Job, ctx: Context) -> Job:
    if not media.probe(job.episode.media).has_video:
        return job
    lips, subtitles = _lip_edit(job, ctx), _subtitle_edit(job, ctx)
    if lips is None and subtitles is None:
        return job
    source = splice.layout(job.episode.media)
    if source is None or lips is not None and len(source.pts) != len(lips.analysis.times_s):
        return _reencoded(job, ctx, lips, subtitles)  # an edit list can hide frames from decoding
    times = lips.analysis.times_s if lips else _frame_times(source) + ingest.video_start_s(job)
    frames = set(tracks.plan(lips.analysis, lips.windows)) if lips else set()
    frames |= subtitles.frames(times) if subtitles else set()
    spans = source.spans(frames)
    return _spliced(job, ctx, (lips, subtitles), source, spans, times) if spans else job


@dataclass(frozen=True)
class LipEdit:
    """The speaking faces to re-animate: the engine, its options, the source's faces and who speaks when."""

    backend: LipSyncer
    engine: dict
    analysis: tracks.Analysis
    windows: tracks.Windows


def _lip_edit(job: Job, ctx: Context) -> LipEdit | None:
    config = ctx.preset.lipsync
    if not config.enabled:
        return None
    windows = _windows(job, ctx)
    if not windows:
        log.info("%s: no speaking face in the picture: lip-sync skipped", job.episode.media)
        return None
    backend: LipSyncer = ctx.backends.get("lipsync", config.backend, config.options)
    return LipEdit(backend, {"backend": config.backend, **config.options}, source_faces(job, ctx), windows)


def _subtitle_edit(job: Job, ctx: Context) -> edit.SubtitleEdit | None:
    """The burned-in subtitles to erase (and the dub's to set in their place), as `[hardsubs] mode` asks."""
    burned, mode = hardsubs.load(job), ctx.preset.hardsubs.mode
    if burned is None or not burned.cues or mode == "keep":
        return None
    assert job.script is not None
    target = job.script.target_language
    replacements: tuple[tuple[int, int, str], ...] = ()
    if mode == "replace":
        rules, fps = ctx.preset.subtitles.for_language(target), float(ingest.info(job).get("fps") or 0.0)
        end_ms = round(job.duration_s * 1000) if job.duration_s else None
        cues, _ = layout.condensed_layout(job.script, job.lines, rules, fps, end_ms)
        replacements = tuple((cue.start_ms, cue.end_ms, "\n".join(cue.lines)) for cue in cues)
    return edit.SubtitleEdit(job.episode.media, burned.band, burned.cues, replacements, target)


def _frame_times(source: splice.Layout) -> np.ndarray:
    """Each frame's presentation time (s) from the first frame's (`media.video_frames` counts from the
    container's start: add where the picture starts)."""
    return (source.presentation - source.presentation[0]).astype(np.float64) * float(source.time_base)


def _spliced(
    job: Job,
    ctx: Context,
    edits: tuple[LipEdit | None, edit.SubtitleEdit | None],
    source: splice.Layout,
    spans: list[splice.Span],
    times: np.ndarray,
) -> Job:
    """Spans re-rendered where their cache entry is missing, then the video spliced from source and spans."""
    lips, subtitles = edits
    dub = _dub(job) if lips else np.zeros(0, np.float32)
    identity: dict[str, Any] = {
        "fingerprint": lips.backend.fingerprint() if lips else {},
        "engine": lips.engine if lips else {},
        "ingest": job.key("ingest"),
    }
    keys = {span: _span_key(ctx, identity, span, times, lips, subtitles, dub) for span in spans}
    edited = _editor(job, lips, subtitles, dub)
    rendered = ctx.cache.entries(keys, lambda missing: _span_builds(missing, source, edited))
    made = sum(not cached for _, cached in rendered.values())
    inputs = {"ingest": job.key("ingest"), "spans": [keys[span].digest for span in spans]}
    key = ctx.cache.key(NAME, {}, identity["engine"], inputs, code=(sys.modules[__name__], splice, h264))
    encoded = {span: path for span, (path, _) in rendered.items()}
    entry, cached = ctx.cache.entry(key, lambda work: splice.splice(source, encoded, work / "video.mp4"))
    counts = {"spans": len(spans), "spans_rendered": made, **_edit_counts(lips, subtitles)}
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached and not made, counts))


def _edit_counts(lips: LipEdit | None, subtitles: edit.SubtitleEdit | None) -> dict[str, int]:
    """What the picture's edits were: faces re-animated (`lip_synced`), burned-in subtitles erased / replaced."""
    return {
        "lip_synced": int(lips is not None),
        "subtitles_erased": int(subtitles is not None),
        "subtitles_replaced": int(bool(subtitles and subtitles.replacements)),
    }


def _editor(
    job: Job, lips: LipEdit | None, subtitles: edit.SubtitleEdit | None, dub: np.ndarray
) -> Callable[[Iterator[media.Frame]], Iterator[np.ndarray]]:
    """Frames → their edited pictures: the faces re-animated, then the burned-in subtitles erased or replaced, in
    one pass (one re-encode of the spans either touches)."""
    synced = None
    if lips is not None:
        synced = partial(
            lips.backend.sync, job.episode.media, audio=dub, rate=RATE, analysis=lips.analysis, windows=lips.windows
        )

    def edited(frames: Iterator[media.Frame]) -> Iterator[np.ndarray]:
        if synced is not None:
            frames = (dataclasses.replace(frame, rgb=picture) for frame, picture in _paired(frames, synced))
        if subtitles is None:
            return (frame.rgb for frame in frames)
        return subtitles.apply(frames)

    return edited


def _span_builds(
    missing: list[splice.Span], source: splice.Layout, synced: Callable[[Iterator[media.Frame]], Iterator[np.ndarray]]
) -> Iterator[Build]:
    """One build per missing span, in order: the spans are decoded in one pass and each is re-encoded on its own."""
    edited = _paired(splice.decode(missing, source), synced)
    for span in missing:
        yield partial(splice.encode, islice(edited, span.end - span.start), span, source)


def _paired(
    frames: Iterator[media.Frame], engine: Callable[[Iterator[media.Frame]], Iterator[np.ndarray]]
) -> Iterator[tuple[media.Frame, np.ndarray]]:
    """Each frame with the picture the engine made of it (the engine may read ahead: a batch in memory)."""
    pending: deque[media.Frame] = deque()

    def fed() -> Iterator[media.Frame]:
        for frame in frames:
            pending.append(frame)
            yield frame

    for picture in engine(fed()):
        yield pending.popleft(), picture


def _span_key(
    ctx: Context,
    identity: dict,
    span: splice.Span,
    times: np.ndarray,
    lips: LipEdit | None,
    subtitles: edit.SubtitleEdit | None,
    dub: np.ndarray,
) -> Key:
    """A span's identity: source and engine, the span, the windows it shows (or whose edges fade into its frames:
    `tracks.eases`) with their dubbed audio, and the burned-in subtitles it erases or replaces."""
    first, last = float(times[span.start]), float(times[span.end - 1])
    shown: dict[str, list[tuple[float, float]]] = {}
    heard = hashlib.sha256()
    if lips is not None:
        lo_s, hi_s = first - tracks.EASE_S, last + tracks.EASE_S
        shown = {str(t): [(a, b) for a, b in spans if a <= hi_s and b > lo_s] for t, spans in lips.windows.items()}
        shown = {track: spans for track, spans in sorted(shown.items()) if spans}
        for start, end in (window for spans in shown.values() for window in spans):
            lo, hi = (max(0, round(t * RATE)) for t in (start - AUDIO_MARGIN_S, end + AUDIO_MARGIN_S))
            heard.update(np.ascontiguousarray(dub[lo:hi], dtype=np.float32).tobytes())
    inputs = {
        "ingest": identity["ingest"],
        "span": [span.start, span.end],
        "windows": shown,
        "audio": heard.hexdigest(),
    }
    if subtitles is not None:
        inputs["subtitles"] = subtitles.identity(span.start, span.end, first, last)
    return ctx.cache.key(
        "lipsync-span",
        identity["fingerprint"],
        identity["engine"] | {"av": _av_version()},
        inputs,
        code=(sys.modules[__name__], splice, h264, *ANALYSIS_CODE, *edit.CODE),
    )


def _av_version() -> str:
    import av

    return av.__version__


def _reencoded(job: Job, ctx: Context, lips: LipEdit | None, subtitles: edit.SubtitleEdit | None) -> Job:
    """Sources that cannot be spliced: every frame re-encoded, cached as one entry."""
    inputs: dict = {"ingest": job.key("ingest")}
    if lips is not None:
        inputs |= {"dialogue": job.key("synthesize"), "windows": _jsonable(lips.windows)}
    if subtitles is not None:
        inputs["subtitles"] = subtitles.identity(0, sys.maxsize, 0.0, float("inf"))
    key = ctx.cache.key(
        NAME,
        lips.backend.fingerprint() if lips else {},
        lips.engine if lips else {},
        inputs,
        code=(sys.modules[__name__], splice, *ANALYSIS_CODE, *edit.CODE),
    )

    def build(work: Path) -> None:
        video, info = job.episode.media, media.probe(job.episode.media)
        edited = _editor(job, lips, subtitles, _dub(job) if lips else np.zeros(0, np.float32))
        if info.rotation or info.width % 2 or info.height % 2:  # upright RGB pictures, as the engine saw them
            media.write_video(edited(media.video_frames(video)), work / "video.mp4", info.fps)
        else:  # composited into the decoded planes: unchanged pixels are the input re-encoded once
            splice.reencode(video, _paired(media.video_frames(video, planes=True), edited), work / "video.mp4")

    entry, cached = ctx.cache.entry(key, build)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached, _edit_counts(lips, subtitles)))


def _dub(job: Job) -> np.ndarray:
    dialogue, rate = audio.read_wav(job.entry("synthesize") / "dialogue.wav")
    return audio.resample(audio.to_mono(dialogue), rate, RATE)


def speaking_windows(
    analysis: tracks.Analysis, segments: Sequence[Segment], lines: Sequence[LineFit], speech: np.ndarray, rate: int
) -> dict[int, list[tuple[float, float]]]:
    """Track id → the spans (s) it speaks in: each line's span, from the dubbed line's start where that is earlier
    (a line the episode's end would cut starts early) to the dubbed line's end, with a short lead-in and tail."""
    dubbed = {line.id: (line.start_ms, line.end_ms) for line in lines}
    windows: dict[int, list[tuple[float, float]]] = {}
    for segment in segments:
        found = tracks.active_speaker(analysis, speech, rate, segment.start_ms / 1000, segment.end_ms / 1000)
        if found is None:
            continue
        start_ms, end_ms = dubbed.get(segment.id, (segment.start_ms, segment.end_ms))
        start_ms, end_ms = min(segment.start_ms, start_ms), max(segment.end_ms, end_ms)
        windows.setdefault(found[0].id, []).append((max(0.0, start_ms / 1000 - LEAD_S), end_ms / 1000 + TAIL_S))
    return windows


def _windows(job: Job, ctx: Context) -> dict[int, list[tuple[float, float]]]:
    """Who speaks when, cached per source and line spans (a re-run reads a few bytes, not the analysis)."""
    assert job.script is not None
    segments = job.script.segments
    spans = [(s.id, s.start_ms, s.end_ms) for s in segments]
    key = ctx.cache.key(
        "speakers",
        {},
        {"lead_s": LEAD_S, "tail_s": TAIL_S},
        {"ingest": job.key("ingest"), "lines": spans, "dubbed": [(x.id, x.start_ms, x.end_ms) for x in job.lines]},
        code=(sys.modules[__name__], audio, *ANALYSIS_CODE),
    )

    def build(work: Path) -> None:
        speech, rate = audio.read_wav(job.entry("ingest") / "speech.wav")
        found = speaking_windows(source_faces(job, ctx), segments, job.lines, audio.to_mono(speech), rate)
        (work / "windows.json").write_text(_jsonable(found))

    entry, _ = ctx.cache.entry(key, build)
    saved = json.loads((entry / "windows.json").read_text())  # rounded to the ms, hit or miss alike
    return {int(track): [(start, end) for start, end in spans] for track, spans in saved.items()}


def source_faces(job: Job, ctx: Context) -> tracks.Analysis:
    """Shots and face tracks of the source, cached per source (the QA stage reads them too)."""
    key = ctx.cache.key("faces", {}, {"max_faces": tracks.MAX_FACES}, {"ingest": job.key("ingest")}, code=ANALYSIS_CODE)
    made: list[tracks.Analysis] = []  # the analysis as found, where this call finds it

    def build(work: Path) -> None:
        made.append(tracks.analyse(job.episode.media))
        (work / "analysis.json").write_text(made[0].to_json())

    entry, cached = ctx.cache.entry(key, build)
    return tracks.Analysis.from_json((entry / "analysis.json").read_text()) if cached else made[0]


def _jsonable(windows: Mapping[int, Sequence[tuple[float, float]]]) -> str:
    return json.dumps({str(k): [[round(a, 3), round(b, 3)] for a, b in v] for k, v in sorted(windows.items())})
