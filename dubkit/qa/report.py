"""The QA report: a dub measured against its source and its script, line by line and as a whole.

Per line, from the media themselves (so a dub broken after the fact is caught too):
- what is heard (`dubkit.qa.heard`): the dubbed soundtrack transcribed once in the target language, its words
  shared out among the lines; a line's words give its dubbed start and end, its length against the planned
  one, and its word error against the intended translation;
- sync: the mouth opening against the dubbed speech over the line's planned span (`dubkit.lipsync.sync`), for
  the untouched picture (before) and the dubbed one (after), taking the face that follows the speech best;
- from the synthesis fit, when known: speaking rate, time-stretch, overflow and whether the episode's end cut it;
- from the render, when known: the text its subtitle shows, whether it was condensed, and the timed-text rules its
  cues break (`subtitle_fast`: too fast to read, for the editor to write a shorter `subtitle` in the script).
Per shot (cut to cut, as the face analysis finds them): sync before and after over the whole shot, the face that
follows the dubbed speech best. Per episode: loudness of the dub (`dubkit.qa.loudness`), stream durations, sync
aggregated over the lines, and the data of the plots (`dubkit.qa.plots`). Every bound comes from the preset
(`config.Thresholds`), and the report says each verdict itself (flags per line and episode, per sync measure, `ok`s
per stream duration), so what reads it decides nothing; the report's layout is `report.schema.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.backends.base import Transcriber
from dubkit.config import LoudnessTarget, Thresholds
from dubkit.job import LineFit
from dubkit.lipsync import tracks
from dubkit.qa import plots
from dubkit.qa.heard import Heard, hear, planned
from dubkit.qa.wer import word_error_rate
from dubkit.script import Script, Segment
from dubkit.subtitles import layout

VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
SCHEMA = "dubkit-qa-report/5"  # 2: per-shot sync; subtitle flags. 3: each sync and stream duration says its flags.
# 4: a source line read from burned-in subtitles carries the source speech as recognised (`source_asr`, `ocr_asr`)
# 5: a line with versions says which one is spoken and why (`version`)
RATE = 16000
SYNC_MAX_LAG_MS = 500.0  # wide enough to see a line 300 ms off
READING_RULES = ("max_chars_per_second", "min_duration_ms")  # broken: the subtitle lacks the time to be read


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
    loudness_target: LoudnessTarget,
    transcriber: Transcriber,
    script_path: str | None = None,
    source_faces: tracks.Analysis | None = None,
    subtitle_report: layout.Report | None = None,
) -> dict:
    """The report (a dict matching `report.schema.json`, without samples yet). *source_faces*: the source's
    face analysis when it is at hand (the lip-sync stage caches it), else it is made here; *subtitle_report*:
    the render's subtitles, when known."""
    dub_audio = media.decode_audio(dubbed, RATE, 1).reshape(-1)
    heard = hear(dubbed, script, fits, transcriber, dub_audio)
    pictures = None
    if media.probe(dubbed).has_video and media.probe(original).has_video:
        pictures = Pictures(source_faces or tracks.analyse(original), tracks.analyse(dubbed))
    limits = {
        **asdict(thresholds),
        "target_lufs": loudness_target.integrated_lufs,
        "max_true_peak_dbtp": loudness_target.true_peak_dbtp,
    }
    lines = [
        line_report(
            segment, fits.get(segment.id), heard[segment.id], _syncs(segment, fits, pictures, dub_audio), script
        )
        for segment in script.segments
    ]
    if subtitle_report is not None:
        for line, segment in zip(lines, script.segments, strict=True):
            line["subtitle"] = subtitle_line(segment, subtitle_report)
    for line in lines:
        line["flags"] = line_flags(line, fits.get(line["id"]), thresholds, script.target_language)
    episode = episode_report(original, dubbed, lines, thresholds, loudness_target)
    shots = shot_syncs(pictures, dub_audio) if pictures else []
    flag_syncs([line["sync"] for line in lines] + [shot["sync"] for shot in shots] + [episode["sync"]], thresholds)
    return {
        "schema": SCHEMA,
        "original": str(original),
        "dubbed": str(dubbed),
        "script": script_path,
        "languages": {"source": script.source_language, "target": script.target_language},
        "thresholds": limits,
        "episode": episode,
        "shots": shots,
        "lines": lines,
        "plots": {
            "waveform": plots.waveform(original, dub_audio),
            "mouth": plots.mouth_plot(pictures.dubbed if pictures else None, dub_audio),
        },
        "samples": {"clips": [], "side_by_side": None},
    }


def _syncs(
    segment: Segment, fits: Mapping[str, LineFit], pictures: Pictures | None, dub_audio: np.ndarray
) -> tuple[dict | None, dict | None]:
    if pictures is None:
        return None, None
    start, end = (t / 1000 for t in planned(segment, fits.get(segment.id)))
    end = max(end, segment.end_ms / 1000)
    return _best_sync(pictures.original, dub_audio, start, end), _best_sync(pictures.dubbed, dub_audio, start, end)


def shot_syncs(pictures: Pictures, dub_audio: np.ndarray) -> list[dict]:
    """Per shot of the source (the dub has the same cuts): its span and the sync before and after over it."""
    times = pictures.original.times_s
    if len(times) == 0:
        return []
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    starts = [*pictures.original.shots, len(times)]
    shots = []
    for index, (first, end) in enumerate(zip(starts, starts[1:], strict=False)):
        start_s, end_s = float(times[first]), float(times[end - 1]) + step
        before = _best_sync(pictures.original, dub_audio, start_s, end_s)
        after = _best_sync(pictures.dubbed, dub_audio, start_s, end_s)
        span = {"start_s": _round(start_s, 3), "end_s": _round(end_s, 3)}
        shots.append({"index": index, **span, "sync": {"before": before, "after": after}})
    return shots


def _best_sync(analysis: tracks.Analysis, audio: np.ndarray, start_s: float, end_s: float) -> dict | None:
    """The face whose mouth follows *audio* best over [start_s, end_s): its offset and confidence."""
    found = tracks.best_follower(analysis, audio, RATE, start_s, end_s, SYNC_MAX_LAG_MS)
    if found is None:
        return None
    return {"offset_frames": _round(found[1].offset_frames, 2), "confidence": _round(found[1].confidence, 3)}


def line_report(
    segment: Segment, fit: LineFit | None, heard: Heard, syncs: tuple[dict | None, dict | None], script: Script
) -> dict:
    start, end = planned(segment, fit)
    dubbed = None
    if heard.start_ms is not None and heard.end_ms is not None:
        dubbed = {"start_ms": int(heard.start_ms), "end_ms": int(heard.end_ms)}
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
        "source_asr": source_asr(segment),
        "version": spoken_version(segment),
        "sync": {"before": syncs[0], "after": syncs[1]},
        "flags": [],
        "sample": None,
    }


def source_asr(segment: Segment) -> dict | None:
    """What speech recognition heard over a source line read from burned-in subtitles, and the character error
    rate between the two (None: the line's text is the recognised speech itself)."""
    if segment.heard_cer is None:
        return None
    return {"text": segment.heard, "cer": _round(segment.heard_cer, 3)}


def spoken_version(segment: Segment) -> dict | None:
    """Which of the line's versions the dub speaks (1-based; 0: the editor's own text) and why; None: it has one."""
    if not segment.versions:
        return None
    number = next((i for i, v in enumerate(segment.versions, 1) if v.text == segment.translation), 0)
    kind = segment.versions[number - 1].kind if number else ""
    return {"spoken": number, "of": len(segment.versions), "kind": kind, "choice": segment.choice}


def subtitle_line(segment: Segment, checked: layout.Report) -> dict:
    """The line's subtitle as the render laid it out: its text, whether it was condensed, the rules it breaks."""
    condensed = {c.line: c.text for c in checked.condensed}
    broken = [
        {"rule": v.rule, "start_ms": v.start_ms, "value": v.value, "limit": v.limit}
        for v in checked.violations
        if v.line == segment.id
    ]
    text = condensed.get(segment.id, " ".join(segment.shown.split()))
    return {"text": text, "condensed": segment.id in condensed, "broken": broken}


def sync_flags(sync: dict | None, limits: Thresholds) -> list[str]:
    """The sync bounds *sync* breaks: `sync_offset`, `sync_confidence` (none where no face was measured)."""
    if sync is None:
        return []
    offset = ["sync_offset"] * (abs(sync["offset_frames"]) > limits.max_offset_frames)
    return offset + ["sync_confidence"] * (sync["confidence"] < limits.min_confidence)


def flag_syncs(pairs: list[dict], limits: Thresholds) -> None:
    """Each measured sync of *pairs* ({"before", "after"}: per line, per shot, the episode's) gets the flags it
    raises, so the page reads them: only a line's `after` flags the line; before re-sync they are a warning."""
    for pair in pairs:
        for sync in pair.values():
            if sync is not None:
                sync["flags"] = sync_flags(sync, limits)


def line_flags(line: dict, fit: LineFit | None, limits: Thresholds, language: str) -> list[str]:
    """The figures of *line* outside *limits*."""
    flags = sync_flags(line["sync"]["after"], limits)
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
    if fit is not None and fit.cut_ms > 0:  # lost past the episode's end, however short: always flagged
        flags.append("cut")
    heard_source = line.get("source_asr")
    if heard_source is not None and heard_source["cer"] > limits.max_ocr_asr_cer:
        flags.append("ocr_asr")
    return flags + subtitle_flags(line.get("subtitle"))


def subtitle_flags(subtitle: dict | None) -> list[str]:
    """`subtitle_fast` where a cue of the line cannot be read in its time, `subtitle_rules` where one breaks
    another timed-text rule (the layout keeps those wherever speech allows)."""
    rules = {broken["rule"] for broken in (subtitle or {}).get("broken", ())}
    return ["subtitle_fast"] * bool(rules & set(READING_RULES)) + ["subtitle_rules"] * bool(rules - set(READING_RULES))


def episode_report(original: Path, dubbed: Path, lines: list[dict], limits: Thresholds, target: LoudnessTarget) -> dict:
    from dubkit.qa import loudness

    measured = loudness.measure(media.decode_audio(dubbed, 48000, 2), 48000)
    loud = {
        "integrated_lufs": _round(measured.integrated_lufs, 2),
        "loudness_range_lu": _round(measured.loudness_range_lu, 2),
        "true_peak_dbtp": _round(measured.true_peak_dbtp, 2),
    }
    loud["ok"] = bool(
        abs(measured.integrated_lufs - target.integrated_lufs) <= limits.loudness_tolerance_lu
        and measured.true_peak_dbtp <= target.true_peak_dbtp
    )
    video_s, audio_s = media.stream_durations(dubbed)
    original_s = media.probe(original).duration_s
    reference = video_s if video_s is not None else original_s
    video_ok = abs(reference - original_s) <= limits.max_duration_diff_s  # no video: nothing to differ
    audio_ok = abs((audio_s or 0.0) - reference) <= limits.max_duration_diff_s
    duration_ok = video_ok and audio_ok
    flags = []
    if abs(measured.integrated_lufs - target.integrated_lufs) > limits.loudness_tolerance_lu:
        flags.append("loudness")
    if measured.true_peak_dbtp > target.true_peak_dbtp:
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
            "video_ok": bool(video_ok),
            "audio_ok": bool(audio_ok),
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


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not np.isfinite(value):
        return None if value is None else float(np.clip(value, -999.0, 999.0))
    return round(float(value), digits)
