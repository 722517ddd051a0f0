"""Transcribe: speech → time-stamped lines in the source language, merged into sentences.

With `[transcribe] diarize = true` each line's speaker is found by voice (`dubkit.casting.speakers`): a speaker encoder
embeds every line, the embeddings are clustered, and lines are labelled S1, S2, ... in order of first appearance;
each speaker's voiceprint (mean embedding, median F0) is kept in `speakers.json`. That is a cache entry of its
own, keyed on the transcript. With a cast file, the episode's speakers are then renamed to the series' speakers
their voices match (a third, small entry), and speakers the series has not heard yet are added to the file.

Where subtitles are burned into the picture (the hardsubs stage read them), their human-written text becomes the
lines' text, timed and attributed to speakers by the recognised words; each line keeps what was heard beside it
(`dubkit.hardsubs.fusion`; one more entry, on the transcript and the cues).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from dubkit import audio, languages
from dubkit.backends.base import SpeakerEncoder
from dubkit.casting import cast, speakers
from dubkit.casting.speakers import Voiceprint
from dubkit.errors import StageFailed
from dubkit.hardsubs import fusion
from dubkit.job import Artefact, Job
from dubkit.script import Segment, Transcript, Word, sentences
from dubkit.stages import hardsubs, ingest
from dubkit.stages.base import Context

log = logging.getLogger(__name__)

NAME = "transcribe"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


F0_SECONDS = 30.0  # a speaker's median F0 is taken over (at most) this much of its speech


def run(job: Job, ctx: Context) -> Job:
    if job.episode.script is not None:  # resuming from an edited script: nothing to transcribe
        return job
    config = ctx.preset.transcribe
    backend = ctx.backends.get("asr", config.backend, config.options)
    forced = languages.canonical(job.episode.source) if job.episode.source else None
    options = {
        "backend": config.backend,
        **config.options,
        "language": forced,
        "sentence_max_ms": config.sentence_max_ms,
        "pause_ms": config.pause_ms,
    }
    key = ctx.cache.key(
        NAME,
        backend.fingerprint(),
        options,
        {"speech": job.key("ingest")},
        code=(sys.modules[__name__], sentences),
    )

    def build(work: Path) -> None:
        transcript = backend.transcribe(job.entry("ingest") / "speech.wav", forced)
        if not transcript.segments:
            raise StageFailed(f"{job.episode.media}: no speech found")
        language = forced or transcript.language
        written = in_script(transcript.segments, language)
        lines = sentences.merge_sentences(written, config.sentence_max_ms, config.pause_ms, language)
        save(work / "transcript.json", dataclasses.replace(transcript, segments=lines))

    entry, cached = ctx.cache.entry(key, build)
    artefact = Artefact(key.digest, entry, cached)
    if config.diarize:
        artefact = _diarized(job, ctx, artefact)
        if job.episode.cast_file is not None:
            artefact = _cast_speakers(job.episode.cast_file, ctx, artefact)
    return job.with_artefact(NAME, _fused(job, ctx, artefact))


def in_script(segments: Sequence[Segment], language: str) -> Sequence[Segment]:
    """Chinese *segments* written in the script *language* asks for (Simplified unless it says Traditional: Whisper
    writes either, whatever was spoken), words and all; other languages' segments as they are."""
    convert = script_converter(language)
    if convert is None:
        return segments
    return tuple(
        dataclasses.replace(
            s, text=convert(s.text), words=tuple(dataclasses.replace(w, text=convert(w.text)) for w in s.words)
        )
        for s in segments
    )


def script_converter(language: str) -> Callable[[str], str] | None:
    """Text → the same text in the Chinese script *language* asks for (OpenCC); None for other languages."""
    conversion = languages.chinese_conversion(language)
    return languages.chinese_converter(conversion) if conversion else None


def _fused(job: Job, ctx: Context, heard: Artefact) -> Artefact:
    """The transcript's text taken from the subtitles burned into the picture, timed and attributed to speakers
    through the recognised words (`dubkit.hardsubs.fusion`); a cache entry of its own, on the transcript and cues.
    Subtitles that are not what is said (a translation burned in) leave the transcript as heard."""
    burned = hardsubs.load(job)
    if burned is None or not burned.cues or not ctx.preset.hardsubs.read:
        return heard
    inputs = {"transcript": heard.key, "cues": job.key(hardsubs.NAME)}
    key = ctx.cache.key("fuse", {}, {}, inputs, code=(sys.modules[__name__], fusion))

    def build(work: Path) -> None:
        transcript = load(heard.path / "transcript.json")
        convert = script_converter(transcript.language) or str
        cues = [dataclasses.replace(cue, text=convert(cue.text)) for cue in burned.cues]
        fused = fusion.fuse(cues, transcript, transcript.language)
        if not fusion.transcribes(fused):
            log.warning(
                "%s: the burned-in subtitles are not what is said (another language?): text kept as heard",
                job.episode.media,
            )
            fused = transcript
        save(work / "transcript.json", fused)
        if (heard.path / "speakers.json").exists():
            shutil.copyfile(heard.path / "speakers.json", work / "speakers.json")

    entry, cached = ctx.cache.entry(key, build)
    return Artefact(key.digest, entry, cached and heard.cached, heard.counts)


def _diarized(job: Job, ctx: Context, asr: Artefact) -> Artefact:
    """The transcript with each line's speaker, and the speakers' voiceprints (a cache entry of its own)."""
    config = ctx.preset.transcribe
    encoder: SpeakerEncoder = ctx.backends.get("speaker", config.diarize_backend)
    options = {"threshold": config.speaker_threshold, "min_ms": speakers.MIN_EMBED_MS, "f0_seconds": F0_SECONDS}
    key = ctx.cache.key(
        "diarize",
        encoder.fingerprint(),
        options,
        {"transcript": asr.key},
        code=(sys.modules[__name__], speakers, audio),
    )

    def build(work: Path) -> None:
        transcript = load(asr.path / "transcript.json")
        speech = job.entry("ingest") / "speech.wav"
        lines, prints = diarize(transcript.segments, speech, encoder, config.speaker_threshold)
        save(work / "transcript.json", dataclasses.replace(transcript, segments=lines))
        save_speakers(work / "speakers.json", prints, encoder.fingerprint()["weights"])

    entry, cached = ctx.cache.entry(key, build)
    count = len(load_speakers(entry / "speakers.json")[0])
    return Artefact(key.digest, entry, cached and asr.cached, {"speakers": count})


def diarize(
    segments: Sequence[Segment], speech: Path, encoder: SpeakerEncoder, threshold: float
) -> tuple[tuple[Segment, ...], dict[str, Voiceprint]]:
    """Lines labelled by speaker (embedded, clustered) and each speaker's voiceprint with its median F0."""
    long_enough = [i for i, s in enumerate(segments) if s.duration_ms >= speakers.MIN_EMBED_MS]
    vectors = {i: encoder.embed(_line_audio(speech, segments[i], encoder.rate)) for i in long_enough}
    embedded = {i: v for i, v in vectors.items() if v is not None}
    labels = speakers.line_speakers([(s.start_ms, s.end_ms) for s in segments], embedded, threshold)
    prints = speakers.voiceprints(labels, embedded, [s.duration_ms / 1000 for s in segments])
    for name, voiceprint in prints.items():
        own = [s for s, label in zip(segments, labels, strict=True) if label == name]
        prints[name] = dataclasses.replace(voiceprint, f0_hz=speaker_pitch(speech, own))
    lines = tuple(dataclasses.replace(s, speaker=lab) for s, lab in zip(segments, labels, strict=True))
    return lines, prints


def speaker_pitch(speech: Path, lines: Sequence[Segment]) -> float | None:
    """Median F0 (Hz) of one speaker's lines in the speech track, over their first `F0_SECONDS`."""
    rate, pieces, total_ms = ingest.SPEECH_RATE, [], 0
    for line in lines:
        if total_ms >= F0_SECONDS * 1000:
            break
        pieces.append(_line_audio(speech, line, rate))
        total_ms += line.duration_ms
    if not pieces:
        return None
    return speakers.median_f0(np.concatenate(pieces)[: int(F0_SECONDS * rate)], rate)


def _line_audio(speech: Path, line: Segment, rate: int) -> np.ndarray:
    samples, source_rate = audio.read_wav_span(speech, line.start_ms, line.end_ms)
    return audio.resample(audio.to_mono(samples), source_rate, rate)


def _cast_speakers(path: Path, ctx: Context, diarized: Artefact) -> Artefact:
    """The episode's speakers renamed to the cast file's speakers they sound like; unknown voices added to it."""
    prints, encoder = load_speakers(diarized.path / "speakers.json")
    if not any(p.embedding for p in prints.values()):  # no line long enough to recognise anyone by
        return diarized
    with cast.locked(path):
        series = cast.load(path)
        if series.encoder and series.encoder != encoder:
            log.warning("%s: voiceprints from another speaker encoder; speakers not matched by voice", path)
            return diarized
        mapping = speakers.match(prints, series.prints, ctx.preset.transcribe.cast_threshold)
        added = {mapping[s]: p for s, p in prints.items() if mapping[s] not in series.prints and p.embedding}
        if added:
            cast.save(series.with_prints(added, encoder))
    if all(old == new for old, new in mapping.items()):
        return diarized
    key = ctx.cache.key(
        "speakers", {}, {"mapping": mapping}, {"diarized": diarized.key}, code=(sys.modules[__name__], speakers)
    )

    def build(work: Path) -> None:
        transcript = load(diarized.path / "transcript.json")
        lines = tuple(dataclasses.replace(s, speaker=mapping[s.speaker]) for s in transcript.segments)
        save(work / "transcript.json", dataclasses.replace(transcript, segments=lines))
        save_speakers(work / "speakers.json", {mapping[k]: p for k, p in prints.items()}, encoder)

    entry, _ = ctx.cache.entry(key, build)
    return Artefact(key.digest, entry, diarized.cached, diarized.counts)


def save_speakers(path: Path, prints: Mapping[str, Voiceprint], encoder: str) -> None:
    data = {"encoder": encoder, "speakers": speakers.prints_to_json(prints)}
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def load_speakers(path: Path) -> tuple[dict[str, Voiceprint], str]:
    """Speaker → voiceprint of a diarized transcript, and the encoder's weights identity."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return speakers.prints_from_json(data["speakers"]), str(data["encoder"])


def save(path: Path, transcript: Transcript) -> None:
    path.write_text(json.dumps(dataclasses.asdict(transcript), ensure_ascii=False, indent=2, sort_keys=True))


def load(path: Path) -> Transcript:
    data = json.loads(path.read_text(encoding="utf-8"))
    segments = tuple(Segment(**{**s, "words": tuple(Word(**w) for w in s["words"])}) for s in data["segments"])
    return Transcript(data["language"], segments, data.get("language_probability", 1.0))
