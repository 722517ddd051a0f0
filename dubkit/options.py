"""The options that shape how one episode is dubbed, defined once for `dubkit translate` and `dubkit batch`.

`EpisodeOptions` holds them (plain JSON both ways, so a batch hands them to worker processes and Ray actors inside
its `Settings`); `episode_options` adds the click options that fill it to a command; `EpisodeOptions.apply` turns
them into changes of a preset, `EpisodeOptions.episode` into the `Episode` a dub starts from. A new option added
here reaches both commands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from dubkit.casting.voices import parse_cast
from dubkit.config import (
    HARDSUB_MODES,
    Preset,
    load_preset,
    with_asr_model,
    with_glossary,
    with_hardsubs_mode,
    without_lipsync,
    without_qa,
)
from dubkit.job import Episode

_PATHS = ("cast_file", "glossary")


@dataclass(frozen=True)
class EpisodeOptions:
    """How to dub an episode: its source language (None: detected), the preset, the transcription model in place
    of the preset's, a speaker → voice cast, a series cast file, a glossary in place of the preset's, whether
    to lip-sync and to write the review report, and what to do with subtitles burned into the picture."""

    source: str | None = None
    pipeline: str | None = None
    asr_model: str | None = None
    cast: Mapping[str, str] = field(default_factory=dict)
    cast_file: Path | None = None
    glossary: Path | None = None
    lipsync: bool = True
    qa: bool = True
    hardsubs: str | None = None  # replace, erase or keep burned-in subtitles (None: the preset's choice)

    @classmethod
    def from_cli(cls, params: MutableMapping[str, Any]) -> EpisodeOptions:
        """Take the parameters `episode_options` added out of a command's *params*; a malformed `--cast` is a
        ConfigError."""
        values = {name: params.pop(name) for name in CLI_PARAMS}
        return cls(
            source=values["source"],
            pipeline=values["pipeline"],
            asr_model=values["asr_model"],
            cast=parse_cast(values["cast"]),
            cast_file=values["cast_file"],
            glossary=values["glossary"],
            lipsync=not values["no_lipsync"],
            qa=not values["no_qa"],
            hardsubs=values["hardsubs"],
        )

    def overridden(self, **values: Any) -> EpisodeOptions:
        """These options with each of *values* that is given (not None, not empty) in place of its own."""
        return dataclasses.replace(self, **{name: value for name, value in values.items() if value})

    def preset(self) -> Preset:
        """The chosen preset (`pipeline`, default: `default`) with these options applied."""
        return self.apply(load_preset(self.pipeline))

    def apply(self, preset: Preset) -> Preset:
        """*preset* changed as these options ask: no lip-sync, no review, another glossary or transcription model."""
        preset = preset if self.lipsync else without_lipsync(preset)
        preset = preset if self.qa else without_qa(preset)
        preset = with_hardsubs_mode(preset, self.hardsubs) if self.hardsubs else preset
        preset = with_glossary(preset, self.glossary.resolve()) if self.glossary else preset
        return with_asr_model(preset, self.asr_model) if self.asr_model else preset

    def episode(self, media: Path, target: str, **resume: Path | None) -> Episode:
        """The episode to dub: *media* into *target* with these options; *resume*: `script` and `script_base`."""
        return Episode(media, target, self.source, cast=dict(self.cast), cast_file=self.cast_file, **resume)

    def absolute(self) -> EpisodeOptions:
        """Paths that mean the same in a process started elsewhere (a Ray node has its own working directory)."""
        paths = {name: getattr(self, name).resolve() for name in _PATHS if getattr(self, name)}
        pipeline = self.pipeline  # a preset name, or a path where `config.resolve` would read one
        if pipeline and (Path(pipeline).suffix == ".toml" or Path(pipeline).exists()):
            pipeline = str(Path(pipeline).resolve())
        return dataclasses.replace(self, pipeline=pipeline, **paths)

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return values | {"cast": dict(self.cast)} | {name: str(values[name]) for name in _PATHS if values[name]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpisodeOptions:
        return cls(**{**data, **{name: Path(data[name]) for name in _PATHS if data.get(name)}})


@dataclass(frozen=True)
class _Option:
    """One click option of `episode_options`; *column*: the catalog column that wins over it in a batch."""

    declarations: tuple[str, ...]
    help: str
    column: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


_FILE = {"type": click.Path(path_type=Path)}
_OPTIONS = (
    _Option(("--from", "source"), "Source language (default: detected).", "source"),
    _Option(("--pipeline",), "Preset name (dubkit/data/pipelines/) or a TOML path.", "pipeline"),
    _Option(("--asr-model",), "Transcription model: a name (large-v3), a local path, embedded:base."),
    _Option(("--cast",), "SPEAKER=VOICE, repeatable.", attributes={"multiple": True}),
    _Option(
        ("--cast-file",),
        "Series cast (TOML, [LANG] SPEAKER = VOICE): speakers recognised by voice; new ones cast and added.",
        "cast",
        _FILE,
    ),
    _Option(
        ("--glossary",),
        "Series file (TOML): terms kept as written or with a fixed translation; for an LLM also synopsis, register,"
        " characters.",
        "glossary",
        _FILE,
    ),
    _Option(("--no-lipsync",), "Leave the mouths as they are (no lip-sync).", attributes={"is_flag": True}),
    _Option(("--no-qa",), "Skip the review report.", attributes={"is_flag": True}),
    _Option(
        ("--hardsubs",),
        "Subtitles burned into the picture: replace them with the dub's, erase them, or keep them (default: the"
        " preset's, replace).",
        attributes={"type": click.Choice(HARDSUB_MODES)},
    ),
)
CLI_PARAMS = tuple(click.Option(option.declarations).name for option in _OPTIONS)  # source, ..., no_qa

Command = TypeVar("Command", bound=Callable[..., Any])


def episode_options(catalog: bool = False) -> Callable[[Command], Command]:
    """A decorator that adds the episode options to a click command (in `CLI_PARAMS`, read back with
    `EpisodeOptions.from_cli`); with *catalog*, the help says which catalog column wins over an option."""

    def decorate(command: Command) -> Command:
        for option in reversed(_OPTIONS):  # click lists the options in the order their decorators are written
            wins = f" A row's `{option.column}` column wins." if catalog and option.column else ""
            command = click.option(*option.declarations, help=option.help + wins, **option.attributes)(command)
        return command

    return decorate
