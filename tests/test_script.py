import json
from dataclasses import replace

import pytest

from dubkit.errors import ConfigError
from dubkit.script import Script, Segment, Word


def _script() -> Script:
    lines = (
        Segment("L0001", 0, 1200, "Hello there.", speaker="S1", translation="Hola.", words=(Word(0, 500, "Hello"),)),
        Segment("L0002", 1500, 3000, "How are you?", speaker="S2", translation="¿Cómo estás?", confidence=0.9),
    )
    return Script("en", "es", ()).with_segments(lines)


def test_json_round_trip_is_exact(tmp_path):
    script = _script()
    script.save(tmp_path / "s.json")
    assert Script.load(tmp_path / "s.json") == script
    assert script.speakers == ("S1", "S2")


def test_json_is_sorted_and_readable():
    text = _script().to_json()
    assert "¿Cómo estás?" in text
    assert text.index('"segments"') < text.index('"source_language"') < text.index('"target_language"')


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"source_language": "en", "target_language": "es", "segments": [{"id": "a"}]}',
        '{"source_language": "en", "target_language": "es", "segments": '
        '[{"id": "a", "start_ms": 5, "end_ms": 1, "text": "x"}]}',
    ],
)
def test_invalid_scripts_are_config_errors(text):
    with pytest.raises(ConfigError, match="bad.json"):
        Script.from_json(text, origin="bad.json")


def test_duplicate_ids_rejected():
    script = _script()
    doubled = script.with_segments(script.segments + script.segments[:1])
    with pytest.raises(ConfigError, match="unique"):
        Script.from_json(doubled.to_json())


def test_a_subtitle_round_trips_and_scripts_without_one_still_load(tmp_path):
    script = _script()
    condensed = script.with_segments((replace(script.segments[0], subtitle="¡Hola!"), script.segments[1]))
    condensed.save(tmp_path / "s.json")
    assert Script.load(tmp_path / "s.json") == condensed
    assert [s.shown for s in condensed.segments] == ["¡Hola!", "¿Cómo estás?"]
    old = json.loads(script.to_json())
    for segment in old["segments"]:
        del segment["subtitle"]  # a script written before the field existed
    loaded = Script.from_json(json.dumps(old))
    assert loaded == script and all(s.subtitle == "" for s in loaded.segments)
