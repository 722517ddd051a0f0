"""The series file: the glossary file with synopsis, register and characters, for translators that read context."""

from __future__ import annotations

import pytest

from dubkit import glossary, series
from dubkit.errors import ConfigError

SERIES = """
title = "The Heiress Returns"
synopsis = "A hidden heiress comes back."
register = "Colloquial."
keep = ["Lin Xia"]
[terms]
"the Council" = "el Consejo"
[languages.fr]
"the Council" = "le Conseil"
[characters.S1]
name = "Lin Xia"
gender = "female"
note = "the heiress"
[characters.S2]
name = "Chen Hao"
"""


def _file(tmp_path, text=SERIES):
    path = tmp_path / "series.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_series_file_gives_the_context_and_stays_a_glossary(tmp_path):
    path = _file(tmp_path)
    context = series.load(path, "es")
    assert (context.title, context.synopsis, context.register) == (
        "The Heiress Returns",
        "A hidden heiress comes back.",
        "Colloquial.",
    )
    assert context.characters["S1"] == series.Character("Lin Xia", "female", "the heiress")
    assert context.terms == {"Lin Xia": "Lin Xia", "the Council": "el Consejo"}
    assert series.load(path, "fr").terms["the Council"] == "le Conseil"
    assert glossary.load(path, "es").terms == context.terms


def test_no_file_is_an_empty_context():
    assert series.load(None, "es") == series.SeriesContext()


def test_genders_from_voices_fill_only_what_the_file_leaves_open(tmp_path):
    context = series.load(_file(tmp_path), "es").with_genders({"S1": "male", "S2": "male", "S3": "female"})
    assert [context.gender(s) for s in ("S1", "S2", "S3", "S4")] == ["female", "male", "female", ""]
    assert context.characters["S2"].name == "Chen Hao"


def test_the_identity_changes_with_what_the_translator_is_told(tmp_path):
    context = series.load(_file(tmp_path), "es")
    assert context.identity() != series.load(_file(tmp_path, SERIES.replace("Colloquial.", "Formal.")), "es").identity()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("synopsis = 3", "'synopsis' must be a string"),
        ('characters = "S1"', "one table per speaker"),
        ("[characters.S1]\nage = 30", "characters.S1 may have only"),
        ('[characters.S1]\ngender = "f"', "gender is 'female' or 'male'"),
        ('plot = "x"', "unknown glossary key 'plot'"),
    ],
)
def test_a_bad_series_file_is_one_line_naming_it(tmp_path, text, says):
    path = _file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        series.load(path, "es")
    assert str(path) in str(caught.value) and says in str(caught.value)
