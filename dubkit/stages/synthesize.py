"""Synthesize: one cached TTS take per line, fitted to the line's slot, assembled into a dialogue track.

A line with versions (`[translate] versions`) and `pick = "auto"` first has each version said once at the natural
rate and measured; the one `dubkit.script.isochrony` chooses is the one fitted and spoken, and the script this stage
returns carries it as the line's translation, with each version's length and the reason (so the delivered script
and subtitles say what is spoken)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dubkit import audio, fit, languages, media
from dubkit.backends.base import Synthesizer
from dubkit.cache import Key
from dubkit.casting import cast, references
from dubkit.casting.speakers import gender_of
from dubkit.casting.voices import Voice, auto_cast, castable, choose, load_voices
from dubkit.job import Artefact, Job, LineFit
from dubkit.script import Script, Segment, isochrony
from dubkit.stages import transcribe
from dubkit.stages.base import Context

NAME = "synthesize"
VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
DIALOGUE_RATE = 48000
# Every line is placed on the dialogue track at this active speech level (`audio.active_rms_db`), so the track's level
# is known without measuring it: render's dialogue gain then depends on no other line, and an edited line changes the
# dub only where it is spoken. -24 dBFS leaves speech peaks (crest factor up to ~20 dB) clear of full scale.
LINE_LEVEL_DB = -24.0
MAX_LINE_GAIN_DB = 30.0  # a near-silent take is raised at most this much, not blown up to the reference level


def run(job: Job, ctx: Context) -> Job:
    assert job.script is not None
    profiles = _cast(job.script, job, ctx)
    cast, chosen = references.cast_clones(
        job.script.segments, profiles, job.script.references, lambda ref: _reference_wav(ref, job, ctx)
    )
    script = _voiced(dataclasses.replace(job.script, references=chosen), profiles)
    duration_ms = int(round(job.duration_s * 1000))
    key = ctx.cache.key(
        NAME,
        _fingerprints(cast.values(), ctx),
        _options(cast, ctx),
        {"lines": [_line_identity(s, cast[s.id]) for s in script.segments], "duration_ms": duration_ms},
        code=(sys.modules[__name__], fit, audio, isochrony),
    )

    def build(work: Path) -> None:
        fitted, spoken = _fit_lines(script.segments, duration_ms, cast, ctx)
        _assemble(fitted, duration_ms, work / "dialogue.wav")
        lines = [dataclasses.asdict(line) for line, _ in fitted]
        (work / "lines.json").write_text(json.dumps(lines, indent=2))
        said = [isochrony.said(s) for s in spoken if s.versions]
        (work / "said.json").write_text(json.dumps(said, ensure_ascii=False, indent=2))

    entry, cached = ctx.cache.entry(key, build)
    lines = _load_lines(entry)
    if cached:
        lines = tuple(dataclasses.replace(line, synthesized=False) for line in lines)
    said = json.loads((entry / "said.json").read_text())
    script = script.with_segments(isochrony.as_said(script.segments, said)) if said else script
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached), lines=lines, script=script)


def _fit_lines(
    segments: tuple[Segment, ...], duration_ms: int, cast: dict[str, Voice], ctx: Context
) -> tuple[list[tuple[LineFit, Path]], list[Segment]]:
    """Every line's take fitted to its slot, in order (each may start early only as far as the one before allows);
    and every line as spoken (`_spoken`)."""
    slots = fit.slots(segments, duration_ms, ctx.preset.synthesize.fit)
    fitted: list[tuple[LineFit, Path]] = []
    spoken: list[Segment] = []
    for index, (segment, slot) in enumerate(zip(segments, slots, strict=True)):
        ctx.progress(NAME, index, len(slots))
        previous_end = fitted[-1][0].end_ms if fitted else None
        earliest = fit.earliest_start(segment, previous_end, ctx.preset.synthesize.fit)
        said, measured_now = _spoken(segment, slot, cast[segment.id], ctx)
        line, take = _fit_line(said, slot, earliest, duration_ms, cast[segment.id], ctx)
        version = next((i + 1 for i, v in enumerate(said.versions) if v.text == said.translation), 0)
        fitted.append((dataclasses.replace(line, synthesized=line.synthesized or measured_now, version=version), take))
        spoken.append(said)
    ctx.progress(NAME, len(slots), len(slots))
    return fitted, spoken


def _spoken(segment: Segment, slot: fit.Slot, voice: Voice, ctx: Context) -> tuple[Segment, bool]:
    """The line as it is spoken: with `pick` auto, each version said once at the natural rate, measured, and the
    one `dubkit.script.isochrony` chooses as its translation; with a pick "1".."K", that version; else its translation.
    Also whether a take was synthesized now to measure."""
    if not isochrony.spoken_by_choice(segment):
        text = isochrony.picked(segment)
        if not segment.versions:
            return segment, False
        reason = f"v{segment.pick}: the editor's pick" if segment.pick.isdigit() else "the translation as written"
        return dataclasses.replace(segment, translation=text, choice=reason), False
    takes = [take(version.text, voice, 1.0, ctx) for version in segment.versions]
    lengths = [measure_ms(wav) for wav, _ in takes]
    chosen = isochrony.choose(lengths, slot, ctx.preset.synthesize.fit.natural_speed)
    versions = tuple(
        dataclasses.replace(v, speech_ms=int(round(ms))) for v, ms in zip(segment.versions, lengths, strict=True)
    )
    spoken = dataclasses.replace(
        segment, translation=versions[chosen.index].text, versions=versions, choice=chosen.reason
    )
    return spoken, any(missed for _, missed in takes)


def _cast(script: Script, job: Job, ctx: Context) -> dict[str, Voice]:
    """Line id → voice profile: the line's own, else its speaker's, else the preset's for the language."""
    config = ctx.preset.synthesize
    profiles = load_voices()
    target = languages.canonical(script.target_language)
    by_speaker = _speaker_voices(script, job, ctx, profiles)
    return {
        s.id: choose(s.voice, s.speaker, target, by_speaker, config.voices, config.fallback_voice, profiles)
        for s in script.segments
    }


def _speaker_voices(script: Script, job: Job, ctx: Context, profiles: dict[str, Voice]) -> dict[str, str]:
    """Speaker → voice name: `--cast`, else the cast file, else cast here by voice pitch (distinct voices of the
    target language, gender from the median F0 of the speaker's lines; the same whether the run transcribed or
    resumed from a script) and, with a cast file, written back to it for the next episode."""
    target = languages.canonical(script.target_language)
    series = cast.load(job.episode.cast_file) if job.episode.cast_file else None
    fixed = {**(series.for_language(target) if series else {}), **job.episode.cast}
    uncast = [sp for sp in dict.fromkeys(s.speaker for s in script.segments if not s.voice) if sp not in fixed]
    voices = ctx.preset.synthesize.voices
    preferred = voices.get(target) or voices.get(languages.primary(target)) or ""
    if not uncast or preferred not in {v.name for v in castable(target, profiles)}:
        return fixed  # nothing to cast, or the preset speaks the language with one voice (cloning, espeak)
    genders = [(speaker, _gender(script, speaker, job)) for speaker in uncast]
    chosen = auto_cast(genders, target, fixed, preferred, profiles)
    if series is not None and chosen:
        with cast.locked(series.path):
            cast.save(cast.load(series.path).with_voices(target, chosen))
    return {**fixed, **chosen}


def _gender(script: Script, speaker: str, job: Job) -> str:
    """The speaker's likely gender from the median F0 of its lines in the original speech ("" if unvoiced)."""
    lines = [s for s in script.segments if s.speaker == speaker]
    return gender_of(transcribe.speaker_pitch(job.entry("ingest") / "speech.wav", lines))


def _reference_wav(reference: references.Reference, job: Job, ctx: Context) -> Path:
    """The speaker's reference lines cut from the original soundtrack, cached per source and spans."""
    key = ctx.cache.key(
        "reference",
        {},
        {"gap_ms": references.GAP_MS},
        {"original": job.key("ingest"), "spans": reference.spans_ms},
        code=(references, audio),
    )
    original = job.entry("ingest") / "original.wav"
    return _cached_file(ctx, key, lambda out: references.extract(original, reference, out))[0]


def _voiced(script: Script, cast: dict[str, Voice]) -> Script:
    """The script with each line's voice written in, so editors see (and can change) it."""
    return script.with_segments(tuple(dataclasses.replace(s, voice=cast[s.id].name) for s in script.segments))


def _engine(voice: Voice, ctx: Context) -> Synthesizer:
    return ctx.backends.get("tts", voice.engine, ctx.preset.synthesize.options.get(voice.engine, {}))


def _fingerprints(voices: Any, ctx: Context) -> dict[str, Any]:
    return {v.engine: _engine(v, ctx).fingerprint() for v in voices}


def _options(cast: dict[str, Voice], ctx: Context) -> dict[str, Any]:
    profiles = {v.name: dataclasses.asdict(v) for v in cast.values()}
    return {
        "fit": dataclasses.asdict(ctx.preset.synthesize.fit),
        "voices": profiles,
        "rate": DIALOGUE_RATE,
        "line_level_db": [LINE_LEVEL_DB, MAX_LINE_GAIN_DB],
    }


def _line_identity(segment: Segment, voice: Voice) -> list[Any]:
    """What a line's take depends on: its timing, its voice, and what it says, or the versions to choose among."""
    said = [v.text for v in segment.versions] if isochrony.spoken_by_choice(segment) else isochrony.picked(segment)
    return [segment.id, segment.start_ms, segment.end_ms, said, voice.name]


def _fit_line(
    segment: Segment, slot: fit.Slot, earliest_ms: int, duration_ms: int, voice: Voice, ctx: Context
) -> tuple[LineFit, Path]:
    """The line's take fitted to its slot (`dubkit.fit`); *earliest_ms*: how early it may start if the episode's
    end (*duration_ms*) would cut it."""
    config = ctx.preset.synthesize.fit
    wav, missed = take(segment.translation, voice, 1.0, ctx)
    speed = fit.speed_for(measure_ms(wav), slot, config.max_speed)
    if speed > 1.0:
        wav, missed_fast = take(segment.translation, voice, speed, ctx)
        missed = missed or missed_fast
    placed = fit.place(measure_ms(wav), slot, earliest_ms, duration_ms, config)
    if placed.stretch > 1.0:
        wav = _stretched(wav, placed.stretch, ctx)
    length = measure_ms(wav)
    line = LineFit(
        segment.id,
        placed.start_ms,
        placed.start_ms + int(round(length)),
        speed,
        placed.stretch,
        fit.overflow_ms(length, fit.Slot(placed.start_ms, slot.end_ms)),
        missed,
        fit.cut_ms(placed.start_ms, length, duration_ms),
    )
    return line, wav


def take(text: str, voice: Voice, speed: float, ctx: Context) -> tuple[Path, bool]:
    """One TTS take, cached per (engine, voice, text, speed); returns (wav, whether it was synthesized now). Public:
    benchmarks/isochrony.py measures versions with the same cache."""
    engine = _engine(voice, ctx)
    options = {"voice": dataclasses.asdict(voice), "speed": speed}
    # No module of dubkit's shapes a take: the engine's fingerprint stands for the code that makes it.
    key = ctx.cache.key("tts", engine.fingerprint(), options, {"text": text}, code=())
    return _cached_file(ctx, key, lambda out: engine.synthesize(text, voice, out, speed=speed))


def _stretched(take: Path, factor: float, ctx: Context) -> Path:
    key = ctx.cache.key("stretch", {}, {"factor": factor}, {"take": take.parent.name}, code=(media,))
    return _cached_file(ctx, key, lambda out: media.time_stretch(take, out, factor))[0]


def _cached_file(ctx: Context, key: Key, make: Callable[[Path], object]) -> tuple[Path, bool]:
    """The entry's `audio.wav`, made by *make* where missing, and whether it was made now."""
    entry, cached = ctx.cache.entry(key, lambda work: make(work / "audio.wav"))
    return entry / "audio.wav", not cached


def measure_ms(wav: Path) -> float:
    """A take's length in milliseconds."""
    import soundfile

    info = soundfile.info(str(wav))
    return 1000.0 * info.frames / info.samplerate


def _assemble(fitted: list[tuple[LineFit, Path]], duration_ms: int, out: Path) -> None:
    """Place every line at its start, at `LINE_LEVEL_DB`, on a silent 48 kHz mono track as long as the episode."""
    track = np.zeros(int(duration_ms * DIALOGUE_RATE / 1000), dtype=np.float32)
    for line, wav in fitted:
        samples, rate = audio.read_wav(wav)
        samples = at_line_level(audio.resample(audio.to_mono(samples), rate, DIALOGUE_RATE), DIALOGUE_RATE)
        start = int(line.start_ms * DIALOGUE_RATE / 1000)
        end = min(start + len(samples), len(track))
        track[start:end] += samples[: end - start]
    audio.write_wav(out, np.clip(track, -1.0, 1.0, out=track), DIALOGUE_RATE, subtype="FLOAT")


def at_line_level(samples: np.ndarray, rate: int) -> np.ndarray:
    """One take scaled to `LINE_LEVEL_DB` of active speech, from its own samples alone (a silent take stays silent).

    Each line's level is its own: TTS engines and voices speak at different levels, and a level measured over the
    whole track would tie every line's gain to every other line's text."""
    level = audio.active_rms_db(samples, rate)
    if level <= -120.0:
        return samples
    gain_db = min(LINE_LEVEL_DB - level, MAX_LINE_GAIN_DB)
    return (samples * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


def _load_lines(entry: Path) -> tuple[LineFit, ...]:
    return tuple(LineFit(**item) for item in json.loads((entry / "lines.json").read_text()))
