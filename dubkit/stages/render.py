"""Render: the dub over the original music & effects bed, loudness-normalized, muxed under the untouched video."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Protocol

import numpy as np

from dubkit import audio, languages, media, subtitles
from dubkit.job import Artefact, Job
from dubkit.stages.base import Context

NAME = "render"
MAX_GAIN_DB = 24.0
BLOCK_S = 10  # the mix is streamed in blocks this long: memory stays flat whatever the episode's length


class Separator(Protocol):
    def separate(self, audio_wav: Path, speech_out: Path, bed_out: Path) -> None: ...

    def fingerprint(self) -> dict[str, str]: ...


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.render
    assert job.script is not None
    target = languages.canonical(job.script.target_language)
    bed = _bed(job, ctx)
    options = {
        "target_lufs": config.target_lufs,
        "true_peak_dbtp": config.true_peak_dbtp,
        "language": languages.iso639_2(target),
    }
    key = ctx.cache.key(
        NAME,
        {"media": media.__name__},
        options,
        {
            "ingest": job.key("ingest"),
            "bed": bed.parent.name,
            "dialogue": job.key("synthesize"),
            "picture": job.key("lipsync") if "lipsync" in job.artefacts else "original",
            "subtitles": [(s.id, s.start_ms, s.end_ms, s.translation) for s in job.script.segments],
        },
    )
    entry = ctx.cache.lookup(key)
    cached = entry is not None
    if entry is None:
        with ctx.cache.publish(key) as work:
            _mix(bed, job.entry("synthesize") / "dialogue.wav", work / "mix.wav")
            media.normalize_loudness(work / "mix.wav", work / "dub.wav", config.target_lufs, config.true_peak_dbtp)
            (work / "mix.wav").unlink()
            picture = job.entry("lipsync") / "video.mp4" if "lipsync" in job.artefacts else job.episode.media
            media.mux(picture, work / "dub.wav", work / "dub.mp4", options["language"], job.duration_s)
            (work / "dub.wav").unlink()
            subtitles.write(job.script, job.lines, work / "dub.srt")
        entry = ctx.cache.path(key)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))


def _bed(job: Job, ctx: Context) -> Path:
    """The original soundtrack with the speech removed, cached per source and separator."""
    config = ctx.preset.render
    separator: Separator = ctx.backends.get("separator", config.separator, config.options)
    key = ctx.cache.key(
        "bed",
        separator.fingerprint(),
        {"separator": config.separator, **config.options},
        {"original": job.key("ingest")},
    )
    entry = ctx.cache.lookup(key)
    if entry is None:
        with ctx.cache.publish(key) as work:
            separator.separate(job.entry("ingest") / "original.wav", work / "speech.wav", work / "bed.wav")
            (work / "speech_level.json").write_text(
                json.dumps({"active_rms_db": _wav_active_rms_db(work / "speech.wav")})
            )
            (work / "speech.wav").unlink()
        entry = ctx.cache.path(key)
    return entry / "bed.wav"


def _wav_active_rms_db(wav: Path) -> float:
    _, rate, _ = audio.wav_shape(wav)
    return audio.blocks_active_rms_db(audio.wav_blocks(wav, rate * BLOCK_S), rate)


def _mix(bed_wav: Path, dialogue_wav: Path, out: Path) -> None:
    """Bed plus dialogue, the dialogue brought to the level the original speech had over that bed.

    Streamed block by block (the bed is never whole in memory); the result is what adding the zero-padded,
    gain-scaled mono dialogue to every channel of the zero-padded bed gives.
    """
    _, rate, channels = audio.wav_shape(bed_wav)
    block = rate * BLOCK_S
    speech_db = json.loads((bed_wav.parent / "speech_level.json").read_text())["active_rms_db"]
    dialogue_db = audio.blocks_active_rms_db(_dialogue_blocks(dialogue_wav, rate, block), rate)
    gain = np.float32(10.0 ** (np.clip(speech_db - dialogue_db, -MAX_GAIN_DB, MAX_GAIN_DB) / 20.0))
    pairs = zip_longest(audio.wav_blocks(bed_wav, block), _dialogue_blocks(dialogue_wav, rate, block))
    with audio.wav_writer(out, rate, channels, subtype="FLOAT") as sink:
        for bed, dialogue in pairs:
            sink.write(_mixed_block(bed, dialogue, gain, channels))


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
