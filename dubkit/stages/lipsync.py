"""Lip-sync: the speaking face of each dubbed line re-animated to the dub; the rest of the picture untouched.

The picture is analysed once per source (shots, face tracks: cached as JSON). Each line's speaker is
the track whose mouth follows the *original* speech best in that line's span; that track's mouth is
then re-animated in the line's span (extended to where the dubbed line ends) to follow the dubbed
dialogue. A video without a face, or lines whose speaker is not in the picture, keep their frames.

An H.264 source is spliced (`dubkit.media.splice`): only the spans of packets that hold re-animated frames
are decoded and re-encoded, each cached on its own, keyed by the dubbed audio of the windows it shows. An
edited line re-renders only the spans its window touches; every other packet is copied bit for bit.
Other codecs are re-encoded whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np

from dubkit import audio, media
from dubkit.backends.base import LipSyncer
from dubkit.cache import Build, Key
from dubkit.job import Artefact, Job, LineFit
from dubkit.lipsync import faces, sync, tracks
from dubkit.media import h264, splice
from dubkit.script import Segment
from dubkit.stages.base import Context

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
    config = ctx.preset.lipsync
    if not config.enabled or not media.probe(job.episode.media).has_video:
        return job
    windows = _windows(job, ctx)
    if not windows:
        log.info("%s: no speaking face in the picture: lip-sync skipped", job.episode.media)
        return job
    backend: LipSyncer = ctx.backends.get("lipsync", config.backend, config.options)
    engine = {"backend": config.backend, **config.options}
    source, analysis = splice.layout(job.episode.media), source_faces(job, ctx)
    if source is None or len(source.pts) != len(analysis.times_s):  # an edit list can hide frames from decoding
        return _reencoded(job, ctx, backend, engine, windows)
    spans = source.spans(tracks.plan(analysis, windows))
    return _spliced(job, ctx, backend, engine, windows, source, analysis, spans) if spans else job


def _spliced(
    job: Job,
    ctx: Context,
    backend: LipSyncer,
    engine: dict,
    windows: tracks.Windows,
    source: splice.Layout,
    analysis: tracks.Analysis,
    spans: list[splice.Span],
) -> Job:
    """Spans re-rendered where their cache entry is missing, then the video spliced from source and spans."""
    dub = _dub(job)
    identity = {"fingerprint": backend.fingerprint(), "engine": engine, "ingest": job.key("ingest")}
    keys = {span: _span_key(ctx, identity, span, analysis.times_s, windows, dub) for span in spans}
    synced = partial(backend.sync, job.episode.media, audio=dub, rate=RATE, analysis=analysis, windows=windows)
    rendered = ctx.cache.entries(keys, lambda missing: _span_builds(missing, source, synced))
    made = sum(not cached for _, cached in rendered.values())
    inputs = {"ingest": job.key("ingest"), "spans": [keys[span].digest for span in spans]}
    key = ctx.cache.key(NAME, {}, engine, inputs, code=(sys.modules[__name__], splice, h264))
    encoded = {span: path for span, (path, _) in rendered.items()}
    entry, cached = ctx.cache.entry(key, lambda work: splice.splice(source, encoded, work / "video.mp4"))
    counts = {"spans": len(spans), "spans_rendered": made}
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached and not made, counts))


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
    ctx: Context, identity: dict, span: splice.Span, times: np.ndarray, windows: tracks.Windows, dub: np.ndarray
) -> Key:
    """A span's identity: source and engine, the span, and the windows it shows (or whose edges fade into its
    frames: `tracks.eases`) with their dubbed audio."""
    first, last = float(times[span.start]) - tracks.EASE_S, float(times[span.end - 1]) + tracks.EASE_S
    shown = {str(track): [(a, b) for a, b in spans if a <= last and b > first] for track, spans in windows.items()}
    shown = {track: spans for track, spans in sorted(shown.items()) if spans}
    heard = hashlib.sha256()
    for start, end in (window for spans in shown.values() for window in spans):
        lo, hi = (max(0, round(t * RATE)) for t in (start - AUDIO_MARGIN_S, end + AUDIO_MARGIN_S))
        heard.update(np.ascontiguousarray(dub[lo:hi], dtype=np.float32).tobytes())
    return ctx.cache.key(
        "lipsync-span",
        identity["fingerprint"],
        identity["engine"] | {"av": _av_version()},
        {"ingest": identity["ingest"], "span": [span.start, span.end], "windows": shown, "audio": heard.hexdigest()},
        code=(sys.modules[__name__], splice, h264, *ANALYSIS_CODE),
    )


def _av_version() -> str:
    import av

    return av.__version__


def _reencoded(job: Job, ctx: Context, backend: LipSyncer, engine: dict, windows: tracks.Windows) -> Job:
    """Sources that cannot be spliced: every frame re-encoded, cached as one entry."""
    key = ctx.cache.key(
        NAME,
        backend.fingerprint(),
        engine,
        {"ingest": job.key("ingest"), "dialogue": job.key("synthesize"), "windows": _jsonable(windows)},
        code=(sys.modules[__name__], splice, *ANALYSIS_CODE),
    )

    def build(work: Path) -> None:
        video, info = job.episode.media, media.probe(job.episode.media)
        synced = partial(
            backend.sync, video, audio=_dub(job), rate=RATE, analysis=source_faces(job, ctx), windows=windows
        )
        if info.rotation or info.width % 2 or info.height % 2:  # upright RGB pictures, as the engine saw them
            media.write_video(synced(media.video_frames(video)), work / "video.mp4", info.fps)
        else:  # composited into the decoded planes: unchanged pixels are the input re-encoded once
            splice.reencode(video, _paired(media.video_frames(video, planes=True), synced), work / "video.mp4")

    entry, cached = ctx.cache.entry(key, build)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))


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
