"""Render: the dub over the original music & effects bed, loudness-normalized, muxed under the untouched video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from dubkit import audio, languages, media, subtitles
from dubkit.job import Artefact, Job
from dubkit.stages.base import Context

NAME = "render"
MAX_GAIN_DB = 24.0


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
            speech, rate = audio.read_wav(work / "speech.wav")
            (work / "speech_level.json").write_text(json.dumps({"active_rms_db": audio.active_rms_db(speech, rate)}))
            (work / "speech.wav").unlink()
        entry = ctx.cache.path(key)
    return entry / "bed.wav"


def _mix(bed_wav: Path, dialogue_wav: Path, out: Path) -> None:
    """Bed plus dialogue, the dialogue brought to the level the original speech had over that bed."""
    bed, rate = audio.read_wav(bed_wav)
    dialogue, dialogue_rate = audio.read_wav(dialogue_wav)
    dialogue = audio.resample(audio.to_mono(dialogue), dialogue_rate, rate)
    speech_db = json.loads((bed_wav.parent / "speech_level.json").read_text())["active_rms_db"]
    gain_db = np.clip(speech_db - audio.active_rms_db(dialogue, rate), -MAX_GAIN_DB, MAX_GAIN_DB)
    dialogue = dialogue * np.float32(10.0 ** (gain_db / 20.0))
    if bed.ndim == 2:
        dialogue = np.repeat(dialogue[:, None], bed.shape[1], axis=1)
    length = max(len(bed), len(dialogue))
    mix = _padded(bed, length) + _padded(dialogue, length)
    audio.write_wav(out, mix, rate, subtype="FLOAT")


def _padded(samples: np.ndarray, length: int) -> np.ndarray:
    pad = [(0, length - len(samples))] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, pad)
