from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm_server import llm_server  # noqa: F401  (here, so that the whole session shares one server)
from tests.media_fixtures import MEDIA as SHARED_MEDIA

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_MEDIA}")
    return SHARED_MEDIA
