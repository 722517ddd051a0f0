"""dubkit: a localization and lip-sync dubbing toolkit.

Public API: `dub(Episode(...))` runs the staged pipeline; `Script` / `Segment` are the editable dubbing script.
Importing dubkit loads no model library (torch, transformers, onnxruntime ...): backends import them on use.
"""

from __future__ import annotations

from typing import Any

from dubkit.errors import BackendUnavailable, ConfigError, DubkitError, MediaError, StageFailed
from dubkit.job import Episode
from dubkit.script import Script, Segment

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "DubkitError",
    "Episode",
    "MediaError",
    "Script",
    "Segment",
    "StageFailed",
    "dub",
]


def __getattr__(name: str) -> Any:
    """`dubkit.__version__`: the installed distribution's version (its one source is pyproject.toml)."""
    if name == "__version__":
        from importlib.metadata import version

        return version("dubkit")
    raise AttributeError(f"module 'dubkit' has no attribute {name!r}")


def dub(episode: Episode, **options: Any) -> Any:
    """Dub one episode; see `dubkit.runner.dub` for the options."""
    from dubkit.runner import dub as run

    return run(episode, **options)
