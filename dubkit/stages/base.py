"""What every stage gets: the cache, the preset, and a pool of loaded backends shared across episodes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dubkit.backends import registry
from dubkit.cache import Cache, canonical_json
from dubkit.config import Preset

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Backends:
    """Backends created once and reused (stage-major batches load a model once); closed together."""

    origin: str = "preset"
    _pool: dict[str, Any] = field(default_factory=dict)

    def get(self, kind: str, name: str, options: Mapping[str, Any] | None = None) -> Any:
        options = dict(options or {})
        handle = f"{kind}/{name}/{canonical_json(options)}"
        if handle not in self._pool:
            self._pool[handle] = registry.create(kind, name, options, self.origin)
        return self._pool[handle]

    def close(self) -> None:
        for backend in self._pool.values():
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must never mask the real outcome
                log.warning("closing %r failed", backend, exc_info=True)
        self._pool.clear()


@dataclass
class Context:
    cache: Cache
    preset: Preset
    backends: Backends
    progress: Progress = _no_progress
