"""The QA report: a dub measured against its source and its script, line by line and as a whole.

Per line, from the media themselves (so a dub broken after the fact is caught too):
- what is heard: the dubbed soundtrack transcribed once in the target language with word times; the words
  are shared out among the lines in order, each to the line whose translation has it near where that line
  was planned (`assign_words`). A line's words give its dubbed start and end, its length against the planned
  one, and its word error against the intended translation;
- sync: the mouth opening against the dubbed speech over the line's planned span (`dubkit.qa.sync`), for
  the untouched picture (before) and the dubbed one (after), taking the face that follows the speech best;
- from the synthesis fit, when known: speaking rate, time-stretch and overflow.
Per episode: loudness of the dub (`dubkit.qa.loudness`), stream durations, sync aggregated over the lines,
and the data of the plots. Every bound comes from the preset (`config.Thresholds`); the report's layout is
`report.schema.json`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.config import Thresholds
from dubkit.job import LineFit
from dubkit.lipsync import tracks
from dubkit.qa import sync
from dubkit.qa.wer import word_error_rate
from dubkit.script import Script, Segment, Word

SCHEMA = "dubkit-qa-report/1"
RATE = 16000
SYNC_MAX_LAG_MS = 500.0  # wide enough to see a line 300 ms off
WAVEFORM_BINS = 1200
MOUTH_POINTS = 3000
SLOT_SLACK_S = (0.5, 1.5)  # a dubbed line may start this early and end this late without cost
NEAR_COST = 0.15  # per second a word lies outside its line's planned span
DRIFT_COST = 0.5  # per second further out than the slack
SPAN_SEARCH_MS = 300  # a line's speech is looked for this far beyond its words' times
SPAN_DROP_DB = 25.0  # speech is what comes within this much of the line's loudest moment


@dataclass(frozen=True)
class Heard:
    """What the re-transcription heard in one line's slot."""

    text: str
    start_ms: int | None
    end_ms: int | None


@dataclass(frozen=True)
class Pictures:
    """Face analyses of the source and of the dub (None: no video)."""

    original: tracks.Analysis
    dubbed: tracks.Analysis


def measure(
    original: Path,
    dubbed: Path,
    script: Script,
    fits: Mapping[str, LineFit],
    thresholds: Thresholds,
    target_lufs: float,
    transcriber,  # noqa: ANN001 - any `Transcriber`
    script_path: str | None = None,
    pictures: Pictures | None = None,
) -> dict:
    """The report (a dict matching `report.schema.json`, without samples yet)."""
    dub_audio = media.decode_audio(dubbed, RATE, 1).reshape(-1)
    heard = refined(hear(dubbed, script, fits, transcriber), [s.id for s in script.segments], dub_audio)
    if pictures is None and media.probe(dubbed).has_video and media.probe(original).has_video:
        pictures = Pictures(tracks.analyse(original), tracks.analyse(dubbed))
    limits = {**asdict(thresholds), "target_lufs": target_lufs}
    lines = [
        line_report(
            segment, fits.get(segment.id), heard[segment.id], _syncs(segment, fits, pictures, dub_audio), script
        )
        for segment in script.segments
    ]
    for line in lines:
        line["flags"] = line_flags(line, fits.get(line["id"]), thresholds, script.target_language)
    episode = episode_report(original, dubbed, lines, thresholds, target_lufs)
    return {
        "schema": SCHEMA,
        "original": str(original),
        "dubbed": str(dubbed),
        "script": script_path,
        "languages": {"source": script.source_language, "target": script.target_language},
        "thresholds": limits,
        "episode": episode,
        "lines": lines,
        "plots": {"waveform": waveform(original, dub_audio), "mouth": mouth_plot(pictures, dub_audio)},
        "samples": {"clips": [], "side_by_side": None},
    }


def hear(dubbed: Path, script: Script, fits: Mapping[str, LineFit], transcriber) -> dict[str, Heard]:  # noqa: ANN001
    """Line id → what the dubbed soundtrack says for that line."""
    with tempfile.TemporaryDirectory(prefix="dubkit-qa-") as tmp:
        wav = media.extract_audio(dubbed, Path(tmp) / "dub.wav", RATE, 1)
        transcript = transcriber.transcribe(wav, script.target_language)
    words = [word for segment in transcript.segments for word in _words_of(segment)]
    owners = assign_words(words, script, fits)
    found: dict[str, list[Word]] = {s.id: [] for s in script.segments}
    for word, owner in zip(words, owners, strict=True):
        found[script.segments[owner].id].append(word)
    return {
        line: Heard(" ".join(w.text.strip() for w in ws), ws[0].start_ms, ws[-1].end_ms)
        if ws
        else Heard("", None, None)
        for line, ws in found.items()
    }


def assign_words(words: Sequence[Word], script: Script, fits: Mapping[str, LineFit]) -> list[int]:
    """The line each heard word belongs to, in order (a dubbed line may run past its slot, a line may be silent):
    the monotonic assignment that best matches the words to the lines' translations, near where each line was
    planned to sound (a word gains 1 when its line's translation has it, loses `DRIFT_COST` per second outside
    the line's planned span widened by `SLOT_SLACK_S`)."""
    from dubkit.qa.wer import normalize

    language = script.target_language
    bags = [set(normalize(s.translation, language).split()) for s in script.segments]
    spans = [_planned(s, fits.get(s.id)) for s in script.segments]
    if not words or not bags:
        return []
    score = np.array(
        [[_word_score(w, bag, span, language) for bag, span in zip(bags, spans, strict=True)] for w in words]
    )
    best = np.empty_like(score)
    came = np.zeros(score.shape, dtype=np.int64)
    best[0] = score[0]
    for w in range(1, len(words)):
        prefix = np.maximum.accumulate(best[w - 1])
        came[w] = _prefix_argmax(best[w - 1])
        best[w] = score[w] + prefix
    owners = [int(np.argmax(best[-1]))]
    for w in range(len(words) - 1, 0, -1):
        owners.append(int(came[w][owners[-1]]))
    return owners[::-1]


def _word_score(word: Word, bag: set[str], span: tuple[int, int], language: str) -> float:
    from dubkit.qa.wer import normalize

    tokens = normalize(word.text, language).split()
    match = sum(token in bag for token in tokens) / len(tokens) if tokens else 0.0
    middle = (word.start_ms + word.end_ms) / 2000
    outside = max(0.0, span[0] / 1000 - middle, middle - span[1] / 1000)
    beyond = max(0.0, span[0] / 1000 - SLOT_SLACK_S[0] - middle, middle - span[1] / 1000 - SLOT_SLACK_S[1])
    return match - NEAR_COST * outside - DRIFT_COST * beyond


def _prefix_argmax(values: np.ndarray) -> np.ndarray:
    """For each position, the index of the largest value at or before it (the earliest of equals: a word the
    lines tie on stays with the line before)."""
    index = np.zeros(len(values), dtype=np.int64)
    for position in range(1, len(values)):
        index[position] = position if values[position] > values[index[position - 1]] else index[position - 1]
    return index


def refined(heard: dict[str, Heard], order: Sequence[str], audio: np.ndarray) -> dict[str, Heard]:
    """Word times are loose (Whisper's first word often starts in the silence before it): each line's span is
    narrowed to where its speech is actually loud (`speech_span`), never reaching into its neighbours'."""
    out = dict(heard)
    spans = [heard[line] for line in order]
    for index, line in enumerate(order):
        if spans[index].start_ms is None:
            continue
        before = max((h.end_ms for h in spans[:index] if h.end_ms is not None), default=0)
        after = min(
            (h.start_ms for h in spans[index + 1 :] if h.start_ms is not None), default=len(audio) * 1000 // RATE
        )
        span = speech_span(audio, spans[index].start_ms, spans[index].end_ms, before, after)
        out[line] = Heard(spans[index].text, *span)
    return out


def speech_span(audio: np.ndarray, start_ms: int, end_ms: int, floor_ms: int, ceiling_ms: int) -> tuple[int, int]:
    """Where speech around [start_ms, end_ms] (searched `SPAN_SEARCH_MS` further, within the floor and ceiling)
    rises above `SPAN_DROP_DB` under its peak, in 10 ms steps; the word span itself when nothing is louder."""
    lo = max(floor_ms, start_ms - SPAN_SEARCH_MS, 0)
    hi = min(ceiling_ms, end_ms + SPAN_SEARCH_MS)
    if hi - lo < 30:
        return start_ms, end_ms
    times = np.arange(lo, hi, 10) / 1000
    level = 20 * np.log10(np.maximum(sync.speech_envelope(audio, RATE, times, window_ms=20.0), 1e-6))
    loud = np.flatnonzero(level >= level.max() - SPAN_DROP_DB)
    return int(lo + 10 * loud[0]), int(lo + 10 * loud[-1] + 10)


def _words_of(segment: Segment) -> tuple[Word, ...]:
    if segment.words:
        return segment.words
    return (Word(segment.start_ms, segment.end_ms, segment.text),) if segment.text.strip() else ()


def _planned(segment: Segment, fit: LineFit | None) -> tuple[int, int]:
    """Where the dubbed line was meant to sound: the fit's span, else the source line's."""
    return (fit.start_ms, fit.end_ms) if fit else (segment.start_ms, segment.end_ms)


def _syncs(
    segment: Segment, fits: Mapping[str, LineFit], pictures: Pictures | None, dub_audio: np.ndarray
) -> tuple[dict | None, dict | None]:
    if pictures is None:
        return None, None
    start, end = (t / 1000 for t in _planned(segment, fits.get(segment.id)))
    end = max(end, segment.end_ms / 1000)
    return _best_sync(pictures.original, dub_audio, start, end), _best_sync(pictures.dubbed, dub_audio, start, end)


def _best_sync(analysis: tracks.Analysis, audio: np.ndarray, start_s: float, end_s: float) -> dict | None:
    """The face whose mouth follows *audio* best over [start_s, end_s): its offset and confidence."""
    best = None
    for track in analysis.tracks:
        times = analysis.times_s[track.frames]
        if len(times) == 0 or times[-1] < start_s or times[0] >= end_s:
            continue
        found = sync.estimate(track.mouth(analysis.times_s), audio, RATE, start_s, end_s, SYNC_MAX_LAG_MS)
        if found is not None and (best is None or found.confidence > best.confidence):
            best = found
    return (
        None
        if best is None
        else {"offset_frames": _round(best.offset_frames, 2), "confidence": _round(best.confidence, 3)}
    )


def line_report(
    segment: Segment, fit: LineFit | None, heard: Heard, syncs: tuple[dict | None, dict | None], script: Script
) -> dict:
    start, end = _planned(segment, fit)
    dubbed = None if heard.start_ms is None else {"start_ms": int(heard.start_ms), "end_ms": int(heard.end_ms)}
    ratio = None if dubbed is None else (dubbed["end_ms"] - dubbed["start_ms"]) / max(end - start, 1)
    return {
        "id": segment.id,
        "speaker": segment.speaker,
        "text": segment.text,
        "translation": segment.translation,
        "original": {"start_ms": segment.start_ms, "end_ms": segment.end_ms},
        "planned": {"start_ms": start, "end_ms": end},
        "dubbed": dubbed,
        "stretch": fit.stretch if fit else None,
        "speed": fit.speed if fit else None,
        "overflow_ms": fit.overflow_ms if fit else None,
        "duration_ratio": _round(ratio, 3),
        "asr": {
            "text": heard.text,
            "wer": _round(word_error_rate(segment.translation, heard.text, script.target_language), 3),
        },
        "sync": {"before": syncs[0], "after": syncs[1]},
        "flags": [],
        "sample": None,
    }


def line_flags(line: dict, fit: LineFit | None, limits: Thresholds, language: str) -> list[str]:
    """The figures of *line* outside *limits*."""
    flags = []
    after = line["sync"]["after"]
    if after is not None and abs(after["offset_frames"]) > limits.max_offset_frames:
        flags.append("sync_offset")
    if after is not None and after["confidence"] < limits.min_confidence:
        flags.append("sync_confidence")
    if line["dubbed"] is None and line["translation"].strip():
        flags.append("silent")
    elif line["asr"]["wer"] > limits.max_wer:
        flags.append("wer")
    if line["stretch"] is not None and line["stretch"] > limits.max_stretch:
        flags.append("stretch")
    if line["duration_ratio"] is not None and line["duration_ratio"] > limits.max_duration_ratio:
        flags.append("duration")
    planned_start = line["planned"]["start_ms"]
    if line["dubbed"] is not None and abs(line["dubbed"]["start_ms"] - planned_start) > limits.max_start_shift_ms:
        flags.append("start_shift")
    if line["overflow_ms"] is not None and line["overflow_ms"] > limits.max_overflow_ms:
        flags.append("overflow")
    return flags


def episode_report(original: Path, dubbed: Path, lines: list[dict], limits: Thresholds, target_lufs: float) -> dict:
    from dubkit.qa import loudness

    measured = loudness.measure(media.decode_audio(dubbed, 48000, 2), 48000)
    loud = {
        "integrated_lufs": _round(measured.integrated_lufs, 2),
        "loudness_range_lu": _round(measured.loudness_range_lu, 2),
        "true_peak_dbtp": _round(measured.true_peak_dbtp, 2),
    }
    loud["ok"] = bool(
        abs(measured.integrated_lufs - target_lufs) <= limits.loudness_tolerance_lu
        and measured.true_peak_dbtp <= limits.max_true_peak_dbtp
    )
    video_s, audio_s = media.stream_durations(dubbed)
    original_s = media.probe(original).duration_s
    reference = video_s if video_s is not None else original_s
    duration_ok = abs(reference - original_s) <= limits.max_duration_diff_s and abs((audio_s or 0.0) - reference) <= (
        limits.max_duration_diff_s
    )
    flags = []
    if abs(measured.integrated_lufs - target_lufs) > limits.loudness_tolerance_lu:
        flags.append("loudness")
    if measured.true_peak_dbtp > limits.max_true_peak_dbtp:
        flags.append("true_peak")
    if not duration_ok:
        flags.append("av_duration")
    fps = media.probe(dubbed).fps if video_s is not None else None
    return {
        "fps": _round(fps, 3),
        "duration": {
            "original_s": _round(original_s, 3),
            "video_s": _round(video_s, 3),
            "audio_s": _round(audio_s or 0.0, 3),
            "ok": bool(duration_ok),
        },
        "loudness": loud,
        "sync": {"before": _overall(lines, "before"), "after": _overall(lines, "after")},
        "lines": {"total": len(lines), "flagged": sum(bool(line["flags"]) for line in lines)},
        "flags": flags,
    }


def _overall(lines: list[dict], which: str) -> dict | None:
    """Sync over the lines with a face: confidence-weighted mean offset, mean confidence."""
    found = [line["sync"][which] for line in lines if line["sync"][which] is not None]
    if not found:
        return None
    weights = np.array([max(f["confidence"], 1e-3) for f in found])
    offset = float(np.average([f["offset_frames"] for f in found], weights=weights))
    return {
        "offset_frames": _round(offset, 2),
        "confidence": _round(float(np.mean([f["confidence"] for f in found])), 3),
    }


def waveform(original: Path, dub_audio: np.ndarray) -> dict:
    """Peak level per time bin of the source's and the dub's soundtracks, on one scale (0..1)."""
    source = media.decode_audio(original, RATE, 1).reshape(-1) if media.probe(original).has_audio else np.zeros(1)
    length = max(len(source), len(dub_audio), 1)
    bins = min(WAVEFORM_BINS, length)
    peaks = [_peaks(np.pad(np.abs(x), (0, length - len(x))), bins) for x in (source, dub_audio)]
    scale = max(float(max(p.max() for p in peaks)), 1e-9)
    return {
        "bin_s": length / RATE / bins,
        "original": [_round(float(v) / scale, 4) for v in peaks[0]],
        "dubbed": [_round(float(v) / scale, 4) for v in peaks[1]],
    }


def _peaks(levels: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0, len(levels), bins + 1).astype(int)
    return np.maximum.reduceat(levels, edges[:-1]) if len(levels) else np.zeros(bins)


def mouth_plot(pictures: Pictures | None, dub_audio: np.ndarray) -> dict:
    """The dubbed picture's largest mouth opening per frame and the dubbed speech envelope, each scaled to 0..1."""
    if pictures is None or len(pictures.dubbed.times_s) == 0:
        return {"times_s": [], "opening": [], "envelope": []}
    analysis = pictures.dubbed
    opening = np.full(len(analysis.times_s), np.nan)
    area = np.zeros(len(analysis.times_s))
    for track in analysis.tracks:
        sizes = (track.boxes[:, 2] - track.boxes[:, 0]) * (track.boxes[:, 3] - track.boxes[:, 1])
        larger = sizes > area[track.frames]
        opening[track.frames[larger]] = track.opening[larger]
        area[track.frames[larger]] = sizes[larger]
    envelope = sync.speech_envelope(dub_audio, RATE, analysis.times_s)
    step = max(1, len(analysis.times_s) // MOUTH_POINTS)
    top_open = np.nanmax(opening) if np.any(~np.isnan(opening)) else 1.0
    top_env = max(float(envelope.max()), 1e-9) if len(envelope) else 1.0
    return {
        "times_s": [_round(float(t), 3) for t in analysis.times_s[::step]],
        "opening": [None if np.isnan(v) else _round(float(v / top_open), 4) for v in opening[::step]],
        "envelope": [_round(float(v / top_env), 4) for v in envelope[::step]],
    }


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not np.isfinite(value):
        return None if value is None else float(np.clip(value, -999.0, 999.0))
    return round(float(value), digits)
