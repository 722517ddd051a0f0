"""What a deliverable says about itself: the AI-generated-content disclosure and the track names.

Written into every MP4 and MKV the render stage delivers (see docs/deliverables.md):
- container: `AI_GENERATED` ("synthetic speech", plus "; lip-synced video" when mouths were re-animated),
  `comment` and `description` (one sentence saying so in words), `AI_TOOL` ("dubkit <version>");
- dub audio (first, default): language (ISO 639-2), `title` and `handler_name` "<Language> (AI dub)",
  `AI_GENERATED` "synthetic speech";
- original audio (second): language, `title` and `handler_name` "<Language> (original)";
- video, when lip-synced: `title` and `handler_name` "Video (AI lip-synced)", `AI_GENERATED` "lip-synced video";
- subtitles: language, `title` and `handler_name` "<Language>".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version

from dubkit import languages

SPEECH = "synthetic speech"
LIPSYNC = "lip-synced video"


@dataclass(frozen=True)
class Labels:
    """Tags for the container and for each kind of stream of one dub."""

    container: Mapping[str, str]
    dub: Mapping[str, str]
    original: Mapping[str, str]
    subtitles: Mapping[str, str]
    video: Mapping[str, str] = field(default_factory=dict)


def for_dub(target: str, source: str, lip_synced: bool) -> Labels:
    """The labels of a dub into *target* of an episode in *source* (BCP-47 tags)."""
    dub_name, source_name = _short_name(target), _short_name(source)
    generated = f"{SPEECH}; {LIPSYNC}" if lip_synced else SPEECH
    sentence = (
        f"{dub_name} dub made with AI-generated synthetic speech (dubkit); the original {source_name} audio is "
        "the second audio track."
    )
    if lip_synced:
        sentence += " The video was altered by AI: the speakers' mouths were re-animated to match the dub."
    video_title = "Video (AI lip-synced)"
    return Labels(
        container={
            "AI_GENERATED": generated,
            "AI_TOOL": f"dubkit {version('dubkit')}",  # the installed version (pyproject.toml)
            "comment": sentence,
            "description": sentence,
        },
        dub=_named(f"{dub_name} (AI dub)", AI_GENERATED=SPEECH),
        original=_named(f"{source_name} (original)"),
        subtitles=_named(dub_name),
        video=_named(video_title, AI_GENERATED=LIPSYNC) if lip_synced else {},
    )


def _named(title: str, **extra: str) -> dict[str, str]:
    """A stream's name, as Matroska (`title`) and MP4 players (`title` → track name, `handler_name`) show it."""
    return {"title": title, "handler_name": title, **extra}


def _short_name(tag: str) -> str:
    """'Spanish' for es, not 'Spanish; Castilian'; 'Modern Greek' for el, without the date range."""
    return languages.name(tag).split(";")[0].split(" (")[0].strip()
