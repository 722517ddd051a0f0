"""Real read Mandarin dubbed into Spanish with the embedded engines: `dubkit translate` on the f5-tts wheel's clip.

Audio-only input is dubbed as it is (an audio-only MP4 comes out), so the clip goes in without a picture. Spanish
has no offline engine from Chinese: the line goes zh → en by Whisper's speech translation, then en → es.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.clitools import dubkit, summary
from tests.mandarin_clips import F5_ZH_TEXT, character_error, cuts_inside_words, f5_clip, is_simplified

pytestmark = pytest.mark.slow
CHAINED = re.compile(r'^whisper:zh→en "(?P<english>.+)" (?P<second>[\w-]+):en→es$')


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory) -> tuple[dict, dict]:
    """The run's summary and its script."""
    clip = f5_clip()
    if clip is None:
        pytest.skip("f5-tts is not installed (make setup: pip install --no-deps f5-tts==1.1.22)")
    pytest.importorskip("jieba", reason="the zh extra is not installed")
    work = tmp_path_factory.mktemp("mandarin")
    result = summary(dubkit("translate", clip, "--to", "es", "-o", work / "out", "--json", cache=work / "cache"))
    return result, json.loads(Path(result["script"]).read_text(encoding="utf-8"))


def test_the_transcript_is_simplified_and_close_to_the_words_read(dubbed):
    _, script = dubbed
    text = "".join(line["text"] for line in script["segments"])
    assert script["source_language"] == "zh" and is_simplified(text), text
    assert character_error(F5_ZH_TEXT, text) <= 0.35, text  # Whisper base: 3 of 14 characters wrong


def test_no_line_is_cut_inside_a_word(dubbed):
    _, script = dubbed
    lines = [line["text"] for line in script["segments"]]
    assert cuts_inside_words(lines) == [], lines


def test_every_line_is_dubbed_through_english_with_its_route_recorded(dubbed):
    result, script = dubbed
    lines = script["segments"]
    assert result["lines"]["total"] == len(lines) >= 1 and result["lines"]["synthesized"] == len(lines)
    for line in lines:
        found = CHAINED.match(line["route"])
        assert found and found["english"].strip(), line["route"]
        assert re.search(r"\w", line["translation"]), line
    assert Path(result["output"]).is_file() and Path(result["subtitles"]).read_text(encoding="utf-8").strip()
