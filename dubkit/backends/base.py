"""The backend contracts: one Protocol per kind of engine, and the small request data they take.

Stages type their backends with these; engines satisfy them by shape (no base class to inherit). Every backend
has `fingerprint()` (what its output depends on: library versions, model id, weights identity; it goes into cache
keys, so it must be cheap and must not load the model), `load()` (once, before work; the work methods call it
themselves) and `close()` (frees the model; the stage's backend pool calls it when the run ends).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from dubkit.casting.voices import Voice
    from dubkit.lipsync.tracks import Analysis, Windows
    from dubkit.media import Frame
    from dubkit.script import Transcript
    from dubkit.series import SeriesContext


class Backend(Protocol):
    def fingerprint(self) -> dict[str, Any]: ...

    def load(self) -> None: ...

    def close(self) -> None: ...


class Transcriber(Backend, Protocol):
    """Speech → time-stamped lines in the source language (`asr_*`)."""

    def transcribe(self, audio: Path, language: str | None) -> Transcript: ...


class SpeakerEncoder(Backend, Protocol):
    """Speaker embeddings for diarization: one unit vector per stretch of speech at `rate` Hz (mono), None when
    it holds too little speech to tell a voice by (`diarize_*`)."""

    rate: int

    def embed(self, samples: np.ndarray) -> np.ndarray | None: ...


@dataclass(frozen=True)
class TranslationRequest:
    """Lines of one episode in order. `spans` are (start_ms, end_ms) per line in `audio` (16 kHz mono WAV);
    `ids` and `speakers` the lines' ids and speakers (S1 …); `slots_ms` how long each line's dub may last.
    `context`: what a translator that reads it (`mt_llm`) knows of the series; `memo`: where it keeps what it
    was told per line, so a re-run or an edited line asks only for what changed."""

    texts: tuple[str, ...]
    source: str
    target: str
    spans: tuple[tuple[int, int], ...] = ()
    audio: Path | None = None
    ids: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    slots_ms: tuple[int, ...] = ()
    context: SeriesContext | None = None
    memo: LineMemo | None = None


class Translator(Backend, Protocol):
    """The whole episode's lines at once, for context (`mt_*`)."""

    def supports(self, source: str, target: str) -> bool: ...

    def pairs(self) -> list[tuple[str, str]]: ...

    def translate(self, request: TranslationRequest) -> list[str]: ...


@runtime_checkable
class Shortener(Translator, Protocol):
    """A translator that also says each line in fewer words (`mt_llm`): per line *count* versions, the most
    faithful first, each shorter than the one before, for the dub to choose from by their measured length."""

    def translate_versions(self, request: TranslationRequest, count: int) -> list[tuple[str, ...]]: ...


class LineMemo(Protocol):
    """A per-line store for translators that pay per request: a JSON value by a JSON key (`None`: not kept)."""

    def get(self, key: dict[str, Any]) -> Any: ...

    def put(self, key: dict[str, Any], value: Any) -> None: ...

    def spend(self, usage: Mapping[str, int]) -> None:
        """What asking cost (`prompt_tokens`, `completion_tokens`, `requests`), for the run's summary."""
        ...


class Synthesizer(Backend, Protocol):
    """One line of text → one take of speech in a WAV file (`tts_*`)."""

    def languages(self) -> list[str]: ...

    def synthesize(self, text: str, voice: Voice, out: Path, speed: float = 1.0) -> None: ...


class Separator(Backend, Protocol):
    """A soundtrack → its speech and the music & effects bed without it (`sep_*`)."""

    def separate(self, audio_wav: Path, speech_out: Path, bed_out: Path) -> None: ...


@dataclass(frozen=True)
class TextLine:
    """One line of text read from a picture: its text, the reader's confidence (0–1) and its box (left, top,
    right, bottom) in the picture's pixels."""

    text: str
    score: float
    box: tuple[int, int, int, int]


class TextReader(Backend, Protocol):
    """The text in one RGB picture (height, width, 3), as lines top to bottom, left to right (`ocr_*`)."""

    def read(self, rgb: np.ndarray) -> list[TextLine]: ...


class LipSyncer(Backend, Protocol):
    """Speaking faces re-animated to the dubbed speech (`lipsync_*`)."""

    def sync(
        self,
        video: Path,
        frames: Iterator[Frame],
        audio: np.ndarray,
        rate: int,
        analysis: Analysis,
        windows: Windows,
    ) -> Iterator[np.ndarray]:
        """One RGB picture per frame, in order: re-animated inside the windows, else the frame's own `rgb`.

        A frame's picture may depend on the source, the analysis and the audio of the windows it lies in
        (± `dubkit.stages.lipsync.AUDIO_MARGIN_S`), nothing else: spans are cached on that."""
        ...
