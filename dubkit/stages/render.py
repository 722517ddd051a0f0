"""Render: the dub over the original music & effects bed, loudness-normalized to the preset's profile, delivered.

Deliverables (`dubkit.media.delivery`): `dub.mp4` and/or `dub.mkv` with the picture (lip-synced where it was) copied,
the dub as the first, default audio track and the original soundtrack second, both language-tagged, the subtitles
beside (`dub.srt`) and as a track where asked, and the AI-generated-content labels (`dubkit.media.labels`);
`loudness.json` (the dub track as delivered, measured); with `stems`, `stems/{dialogue,bed,mix}.wav`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

import numpy as np

from dubkit import audio, languages, media
from dubkit.backends.base import Separator
from dubkit.config import LoudnessTarget, RenderConfig, SubtitleConfig
from dubkit.errors import MediaError
from dubkit.job import Artefact, Job
from dubkit.media import delivery as deliverables
from dubkit.media import labels
from dubkit.stages import ingest, synthesize
from dubkit.stages.base import Context
from dubkit.subtitles import condense, layout, linebreak, spotting

NAME = "render"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
MAX_GAIN_DB = 24.0
# The dub sits at least this far above the bed's own level: where the separator leaves the original voice in the bed
# (and so estimates the speech too quiet), matching that estimate would bury the dub under the original speech.
MIN_OVER_BED_DB = 10.0
BLOCK_S = 10  # the mix is streamed in blocks this long: memory stays flat whatever the episode's length
CODEC_HEADROOM_DB = 0.5  # the dub is normalized this far under the true-peak limit: AAC encoding adds overshoot
STEMS_RATE = 48000
STEMS = ("dialogue", "bed", "mix")
LOUDNESS_TOLERANCE_LU = 1.0  # the delivered dub track's integrated loudness against the profile's target


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.render
    assert job.script is not None
    target = languages.canonical(job.script.target_language)
    bed = _bed(job, ctx)
    tags = labels.for_dub(target, job.script.source_language, lip_synced=_lip_synced(job))
    rules, fps = ctx.preset.subtitles.for_language(target), float(ingest.info(job).get("fps") or 0.0)
    options = {
        **dataclasses.asdict(config),  # every preset option, whatever it is
        **dataclasses.asdict(config.loudness),
        "language": languages.iso639_2(target),
        "source_language": languages.iso639_2(job.script.source_language),
        "labels": dataclasses.asdict(tags),
        "codec_headroom_db": CODEC_HEADROOM_DB,
        "min_over_bed_db": MIN_OVER_BED_DB,
        "dialogue_level_db": synthesize.LINE_LEVEL_DB,
        "subtitles": _subtitle_options(rules, fps, target),
        "video_start_s": ingest.video_start_s(job),  # the picture's place against the sound
    }
    key = ctx.cache.key(
        NAME,
        {},
        options,
        {
            "ingest": job.key("ingest"),
            "bed": bed.parent.name,
            "dialogue": job.key("synthesize"),
            "picture": job.key("lipsync") if "lipsync" in job.artefacts else "original",
            "subtitles": [(s.id, s.start_ms, s.end_ms, s.shown) for s in job.script.segments],
        },
        code=(sys.modules[__name__], audio, media, deliverables, layout, condense, linebreak, spotting),
    )

    def build(work: Path) -> None:
        assert job.script is not None
        end_ms = round(job.duration_s * 1000) if job.duration_s else None
        cues = layout.write(job.script, job.lines, work / "dub.srt", rules, fps, end_ms)
        (work / "subtitles.json").write_text(json.dumps(cues.to_dict(), ensure_ascii=False, indent=2))
        gain = _mix(bed, job.entry("synthesize") / "dialogue.wav", work / "mix.wav")
        picture = job.entry("lipsync") / "video.mp4" if "lipsync" in job.artefacts else job.episode.media
        _deliver_on_target(_delivery(job, picture, work, tags, options), work, config)
        if config.stems:
            _write_stems(bed, job.entry("synthesize") / "dialogue.wav", gain, work, job.duration_s)
        (work / "mix.wav").unlink()
        (work / "dub.wav").unlink()

    entry, cached = ctx.cache.entry(key, build)
    counts = layout.Report.from_dict(json.loads((entry / "subtitles.json").read_text())).counts()
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached, counts))


def _lip_synced(job: Job) -> bool:
    """Whether the picture stage re-animated faces (it may have edited only burned-in subtitles)."""
    return "lipsync" in job.artefacts and bool(job.artefacts["lipsync"].counts.get("lip_synced", 1))


def _subtitle_options(rules: SubtitleConfig, fps: float, language: str) -> dict:
    """What the subtitles depend on besides the script and the code: the timed-text rules, the frame rate, and the
    condensation's rules for *language*."""
    return {**dataclasses.asdict(rules), "fps": fps, "condense": dataclasses.asdict(condense.rules_for(language))}


def _bed(job: Job, ctx: Context) -> Path:
    """The original soundtrack with the speech removed, cached per source and separator."""
    config = ctx.preset.render
    separator: Separator = ctx.backends.get("separator", config.separator, config.options)
    key = ctx.cache.key(
        "bed",
        separator.fingerprint(),
        {"separator": config.separator, **config.options},
        {"original": job.key("ingest")},
        code=(sys.modules[__name__], audio),
    )

    def build(work: Path) -> None:
        separator.separate(job.entry("ingest") / "original.wav", work / "speech.wav", work / "bed.wav")
        (work / "speech_level.json").write_text(json.dumps({"active_rms_db": _wav_active_rms_db(work / "speech.wav")}))
        (work / "speech.wav").unlink()

    entry, _ = ctx.cache.entry(key, build)
    return entry / "bed.wav"


def _wav_active_rms_db(wav: Path) -> float:
    _, rate, _ = audio.wav_shape(wav)
    return audio.blocks_active_rms_db(audio.wav_blocks(wav, rate * BLOCK_S), rate)


def _mix(bed_wav: Path, dialogue_wav: Path, out: Path) -> np.float32:
    """Bed plus dialogue, the dialogue brought to the level the original speech had over that bed (and at least
    `MIN_OVER_BED_DB` above the bed); returns the dialogue's gain.

    The gain comes from the source alone: synthesize placed every line at `LINE_LEVEL_DB`, so the dialogue is not
    measured, and an edited line leaves every other line's level as it was. Streamed block by block (the bed is
    never whole in memory); the result is what adding the zero-padded, gain-scaled mono dialogue to every channel of
    the zero-padded bed gives.
    """
    _, rate, channels = audio.wav_shape(bed_wav)
    block = rate * BLOCK_S
    speech_db = json.loads((bed_wav.parent / "speech_level.json").read_text())["active_rms_db"]
    target_db = max(speech_db, audio.blocks_active_rms_db(audio.wav_blocks(bed_wav, block), rate) + MIN_OVER_BED_DB)
    gain = np.float32(10.0 ** (np.clip(target_db - synthesize.LINE_LEVEL_DB, -MAX_GAIN_DB, MAX_GAIN_DB) / 20.0))
    pairs = zip_longest(audio.wav_blocks(bed_wav, block), _dialogue_blocks(dialogue_wav, rate, block))
    with audio.wav_writer(out, rate, channels, subtype="FLOAT") as sink:
        for bed, dialogue in pairs:
            sink.write(_mixed_block(bed, dialogue, gain, channels))
    return gain


def _dialogue_blocks(dialogue_wav: Path, rate: int, block: int) -> Iterator[np.ndarray]:
    """The dialogue as mono blocks at *rate*: streamed from the file, or resampled whole when its rate differs."""
    _, dialogue_rate, _ = audio.wav_shape(dialogue_wav)
    if dialogue_rate == rate:
        yield from (audio.to_mono(b) for b in audio.wav_blocks(dialogue_wav, block))
        return
    dialogue, _ = audio.read_wav(dialogue_wav)
    dialogue = audio.resample(audio.to_mono(dialogue), dialogue_rate, rate)
    yield from (dialogue[first : first + block] for first in range(0, len(dialogue), block))


def _mixed_block(bed: np.ndarray | None, dialogue: np.ndarray | None, gain: np.float32, channels: int) -> np.ndarray:
    """One block of bed (n, channels) plus gain × mono dialogue on every channel; a missing side is silence."""
    bed = np.zeros((0, channels), np.float32) if bed is None else bed
    dialogue = np.zeros((0, 1), np.float32) if dialogue is None else (dialogue * gain)[:, None]
    length = max(len(bed), len(dialogue))
    return _padded(bed, length) + _padded(dialogue, length)


def _padded(samples: np.ndarray, length: int) -> np.ndarray:
    """Zero-padded at the end to *length* samples."""
    pad = [(0, length - len(samples))] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, pad)


# --- deliverables ---------------------------------------------------------------------------------------------


def delivered(entry: Path) -> Path:
    """A render entry's main deliverable: `dub.mp4`, or `dub.mkv` where the preset asked for Matroska alone."""
    mp4 = entry / "dub.mp4"
    return mp4 if mp4.is_file() or not (entry / "dub.mkv").is_file() else entry / "dub.mkv"


def _delivery(job: Job, picture: Path, work: Path, tags: labels.Labels, options: dict) -> deliverables.Delivery:
    """The picture, the dub (first, default) and the original soundtrack, the subtitles, and their labels."""
    language, source = options["language"], options["source_language"]
    dub = deliverables.Track(work / "dub.wav", language, tags.dub)
    original = deliverables.Track(job.entry("ingest") / "original.wav", source, tags.original)
    subs = deliverables.Track(work / "dub.srt", language, tags.subtitles)
    start = options["video_start_s"]
    return deliverables.Delivery(picture, (dub, original), job.duration_s, subs, tags.container, tags.video, start)


def _deliver_on_target(delivery: deliverables.Delivery, work: Path, config: RenderConfig) -> media.Loudness:
    """Normalize the mix into `dub.wav` and deliver every container; the first is measured after AAC encoding.

    The mix is normalized `CODEC_HEADROOM_DB` under the true-peak limit; where the encoded dub still peaks above
    it, once more with the overshoot added to the headroom. The figures go to `loudness.json`."""
    target, headroom = config.loudness, CODEC_HEADROOM_DB
    first = work / f"dub.{config.containers[0]}"
    for _ in range(2):
        peak = target.true_peak_dbtp - headroom
        media.normalize_loudness(work / "mix.wav", work / "dub.wav", target.integrated_lufs, peak)
        _deliver(delivery, first, config)
        measured = media.measure_loudness(first)
        if _on_target(measured, target):
            break
        headroom += max(0.0, measured.true_peak_dbtp - target.true_peak_dbtp) + 0.3
    else:
        raise MediaError(first, f"delivered loudness {measured} misses the {config.profile} target {target}")
    for container in config.containers[1:]:
        _deliver(delivery, work / f"dub.{container}", config)
    report = {"profile": config.profile, **dataclasses.asdict(target), "measured": dataclasses.asdict(measured)}
    (work / "loudness.json").write_text(json.dumps(report, indent=2))
    return measured


def _on_target(measured: media.Loudness, target: LoudnessTarget) -> bool:
    in_range = abs(measured.integrated_lufs - target.integrated_lufs) <= LOUDNESS_TOLERANCE_LU
    return in_range and measured.true_peak_dbtp <= target.true_peak_dbtp


def _deliver(delivery: deliverables.Delivery, out: Path, config: RenderConfig) -> Path:
    container = out.suffix.lstrip(".")
    if container not in config.subtitle_tracks:
        delivery = dataclasses.replace(delivery, subtitles=None)
    return deliverables.deliver(delivery, out, container)


def _write_stems(bed_wav: Path, dialogue_wav: Path, dialogue_gain: np.float32, work: Path, duration_s: float) -> None:
    """`stems/{dialogue,bed,mix}.wav`, 24-bit 48 kHz, as long as the deliverables. The mix is the delivered dub
    track; dialogue and bed are the parts it was mixed from, scaled by the gain loudness normalization gave the
    whole (least squares), so dialogue + bed = mix but where the limiter caught a peak."""
    _, rate, channels = audio.wav_shape(bed_wav)
    if rate != STEMS_RATE:
        raise MediaError(bed_wav, f"stems need the bed at {STEMS_RATE} Hz, not {rate} Hz")
    block, total = rate * BLOCK_S, round(duration_s * rate)
    scale = _fitted_gain(work / "mix.wav", work / "dub.wav", block)
    dialogue = (
        np.repeat((b * dialogue_gain * scale)[:, None], channels, axis=1)
        for b in _dialogue_blocks(dialogue_wav, rate, block)
    )
    streams = {
        "dialogue": dialogue,
        "bed": (b * scale for b in audio.wav_blocks(bed_wav, block)),
        "mix": audio.wav_blocks(work / "dub.wav", block),
    }
    (work / "stems").mkdir()
    for name in STEMS:
        with audio.wav_writer(work / "stems" / f"{name}.wav", rate, channels, subtype="PCM_24") as sink:
            for part in _exactly(streams[name], total, channels, block):
                sink.write(part)


def _fitted_gain(raw: Path, normalized: Path, block: int) -> np.float32:
    """The single gain that best maps *raw* onto *normalized* (least squares over every sample)."""
    dot = energy = 0.0
    for a, b in zip(audio.wav_blocks(raw, block), audio.wav_blocks(normalized, block), strict=False):
        n = min(len(a), len(b))
        dot += float(np.sum(a[:n].astype(np.float64) * b[:n]))
        energy += float(np.sum(np.square(a[:n], dtype=np.float64)))
    return np.float32(dot / energy if energy else 1.0)


def _exactly(blocks: Iterator[np.ndarray], total: int, channels: int, block: int) -> Iterator[np.ndarray]:
    """*blocks* cut, or zero-padded at the end, to *total* frames."""
    written = 0
    for part in blocks:
        part = part[: total - written]
        written += len(part)
        if len(part):
            yield part.astype(np.float32)
        if written >= total:
            return
    while written < total:
        pad = min(block, total - written)
        written += pad
        yield np.zeros((pad, channels), np.float32)
