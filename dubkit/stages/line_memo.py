"""The per-line memo a paying translator keeps its answers in (`dubkit.backends.base.LineMemo`): one small cache
entry per line under the "mt-line" stage, keyed by what the translator says reaches the line, and the tokens this
run spent, for the translate stage's counts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dubkit.cache import Cache, Key

STAGE = "mt-line"


class CacheMemo:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.spent: Counter[str] = Counter()
        self.remembered = 0

    def get(self, key: dict[str, Any]) -> Any:
        entry = self.cache.lookup(self._key(key))
        if entry is None:
            return None
        self.remembered += 1
        return json.loads((entry / "line.json").read_text(encoding="utf-8"))

    def put(self, key: dict[str, Any], value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        self.cache.entry(self._key(key), lambda work: (work / "line.json").write_text(text, encoding="utf-8"))

    def spend(self, usage: Mapping[str, int]) -> None:
        self.spent.update(usage)

    def counts(self) -> dict[str, int]:
        """What this run asked and spent: requests, tokens, and the lines answered from the memo."""
        return {"lines_remembered": self.remembered, **{name: int(n) for name, n in sorted(self.spent.items())}}

    def _key(self, key: dict[str, Any]) -> Key:
        return self.cache.key(STAGE, {}, {}, key, code=())
