"""Glossary: terms protected before machine translation, restored after, violations reported per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubkit import glossary
from dubkit.backends.base import TranslationRequest
from dubkit.errors import ConfigError
from dubkit.script import Script, Segment
from tests.clitools import dubkit, summary

TERMS = glossary.Glossary(
    {
        "Storm Corp": "Storm Corp",
        "the Council": "el Consejo",
        "Council": "Consejo",
        "Ana": "Ana",
        "Dr. Ruiz": "Dr. Ruiz",
    }
)


def roundtrip(text: str, translate=lambda text: text) -> str:
    protected = TERMS.protect(text)
    return TERMS.restore(protected, translate(protected.text))


def test_terms_become_numbered_placeholders_in_any_case():
    protected = TERMS.protect("STORM CORP called the council and storm corp.")
    assert protected.text == "XQZ1 called XQZ2 and XQZ3."
    assert protected.forms == ("Storm Corp", "el Consejo", "Storm Corp")


def test_multi_word_terms_match_across_line_breaks_and_spaces():
    assert TERMS.protect("Storm\n  Corp is here").text == "XQZ1 is here"


def test_punctuation_around_terms_is_kept():
    assert TERMS.protect("Storm Corp's board, (the Council) and Ana!").text == "XQZ1's board, (XQZ2) and XQZ3!"
    assert TERMS.protect("Ask Dr. Ruiz.").text == "Ask XQZ1."


def test_only_whole_words_match():
    text = "Anastasia and the Councillor met Council-approved Storm Corporation people."
    assert TERMS.protect(text).text == text


def test_overlapping_terms_take_the_longest_at_the_leftmost_place():
    protected = TERMS.protect("the Council said: Council rules.")
    assert protected.text == "XQZ1 said: XQZ2 rules."
    assert protected.forms == ("el Consejo", "Consejo")


def test_restore_puts_the_required_forms_back():
    translated = roundtrip("Ana met the Council at Storm Corp.", lambda t: t.replace(" met ", " se reunió con "))
    assert translated == "Ana se reunió con el Consejo at Storm Corp."


def test_a_translated_form_is_capitalized_at_a_sentence_start_a_kept_one_never():
    assert roundtrip("the Council decided.", lambda t: t.replace("decided", "decidió")) == "El Consejo decidió."
    assert roundtrip("Yes. the Council decided.") == "Yes. El Consejo decided."
    assert roundtrip("¿the Council?") == "¿El Consejo?"
    iphone = glossary.Glossary({"iPhone": "iPhone"})
    protected = iphone.protect("iPhone sales.")
    assert iphone.restore(protected, "XQZ1 ventas.") == "iPhone ventas."


def test_restore_tolerates_what_translators_do_to_placeholders():
    protected = TERMS.protect("Storm Corp and Ana")
    assert TERMS.restore(protected, "xqz1 y XQZ 2") == "Storm Corp y Ana"
    assert TERMS.restore(protected, "XQZ7 y XQZ2") == "XQZ7 y Ana"  # not ours: left alone


def test_restore_writes_kept_terms_as_written_when_a_translator_recased_them():
    protected = TERMS.protect("Storm Corp")
    assert TERMS.restore(protected, "Trabajo en storm corp.") == "Trabajo en Storm Corp."


def test_placeholders_survive_apertium():
    from dubkit.backends.mt_apertium import ApertiumTranslator

    translator = ApertiumTranslator()
    if not translator.supports("en", "es"):
        pytest.skip("apertium en-es is not installed")
    lines = ["The Council met Storm Corp yesterday.", "Ana works for Storm Corp, not for the Council."]
    protected = [TERMS.protect(line) for line in lines]
    out = translator.translate(TranslationRequest(tuple(p.text for p in protected), "en", "es"))
    restored = [TERMS.restore(p, t) for p, t in zip(protected, out, strict=True)]
    assert "El Consejo" in restored[0] and "Storm Corp" in restored[0]
    assert all(term in restored[1] for term in ("Ana", "Storm Corp", "el Consejo"))


def segment(id_: str, text: str, translation: str) -> Segment:
    return Segment(id_, 0, 1000, text, translation=translation)


def test_violations_name_the_line_and_the_missing_term():
    segments = [
        segment("a", "The Council met Storm Corp.", "El Consejo se reunió con Storm Corp."),
        segment("b", "Storm Corp again.", "La corporación otra vez."),  # edited: the brand is gone
        segment("c", "Ask the council.", "Pregunta al consejo."),  # the form must be written as given
        segment("d", "storm corp!", "¡storm corp!"),  # a kept term must keep its case
        segment("e", "No term here.", "Nada."),
    ]
    found = TERMS.violations(segments)
    assert [(v.line, v.term, v.expected) for v in found] == [
        ("b", "Storm Corp", "Storm Corp"),
        ("c", "the Council", "el Consejo"),
        ("d", "Storm Corp", "Storm Corp"),
    ]
    report = TERMS.report(segments).summary()
    assert report["terms"] == 5 and report["violations"][0] == {
        "line": "b",
        "term": "Storm Corp",
        "expected": "Storm Corp",
        "where": "translation",
    }


def test_an_editors_subtitle_must_keep_the_terms_too():
    kept = Segment("a", 0, 1000, "Storm Corp again.", translation="Storm Corp otra vez.", subtitle="Storm Corp.")
    lost = Segment("b", 0, 1000, "Storm Corp again.", translation="Storm Corp otra vez.", subtitle="Otra vez.")
    found = TERMS.violations([kept, lost])
    assert [(v.line, v.term, v.where) for v in found] == [("b", "Storm Corp", "subtitle")]


def write(tmp_path: Path, text: str, name: str = "series.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_keeps_terms_and_applies_the_target_language_table(tmp_path):
    path = write(
        tmp_path,
        'keep = ["Storm Corp"]\n[terms]\n"the Council" = "el Consejo"\n'
        '[languages.pt]\n"the Council" = "o Conselho"\n[languages.pt-BR]\n"Storm Corp" = "Storm Corp Brasil"\n',
    )
    assert glossary.load(path, "es").terms == {"Storm Corp": "Storm Corp", "the Council": "el Consejo"}
    assert glossary.load(path, "pt-PT").terms["the Council"] == "o Conselho"
    assert glossary.load(path, "pt-BR").terms == {"Storm Corp": "Storm Corp Brasil", "the Council": "o Conselho"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[terms\n", "cannot read glossary"),
        ("words = 1\n", "unknown glossary key 'words'"),
        ("keep = 'Ana'\n", "'keep' must be a list"),
        ('[terms]\n"the Council" = 3\n', "terms"),
        ('[terms]\n"the Council" = ""\n', "terms"),
        ('[languages]\nes = "x"\n', "languages.es"),
    ],
)
def test_a_bad_glossary_names_the_file_and_the_cause(tmp_path, text, match):
    with pytest.raises(ConfigError, match=r"series\.toml.*" + match):
        glossary.load(write(tmp_path, text), "es")


def test_a_missing_glossary_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read glossary"):
        glossary.load(tmp_path / "nope.toml", "es")


@pytest.mark.slow
def test_translate_honours_the_glossary_and_reports_an_edit_that_breaks_it(tmp_path, shared_media):
    # "It represents the European Central Bank and it symbolises …": terms the recognizer hears alike on every
    # machine tried ("banknotes" later in the line is heard as one word on some and as "Bank notes" on others)
    clip = shared_media / "video" / "talking_heads" / "face_4.mp4"
    terms = write(
        tmp_path,
        'keep = ["European Central Bank"]\n[terms]\n"symbolises" = "encarna"\n'
        '"central bank money" = "dinero de banco central"\n',
    )
    args = ("translate", clip, "--to", "es", "--from", "en", "--until", "translate", "--glossary", terms)
    first = summary(dubkit(*args, "--json", "-o", tmp_path / "out", cache=tmp_path / "cache"))
    script = Script.load(Path(first["script"]))
    (line,) = [s for s in script.segments if "central bank" in s.text.lower()]
    assert "European Central Bank" in line.translation  # kept as written (the MT alone says "Banco Central Europeo")
    assert "encarna" in line.translation and "dinero de banco central" in line.translation
    assert "simboliza" not in line.translation  # the MT's own word for it
    assert first["glossary"] == {"terms": 3, "violations": []}

    again = summary(dubkit(*args, "--json", "-o", tmp_path / "again", cache=tmp_path / "cache"))
    assert again["stages"]["translate"]["cached"]
    other = write(tmp_path, '[terms]\n"symbolises" = "representa"\n', "other.toml")
    changed = summary(dubkit(*args[:-1], other, "--json", "-o", tmp_path / "other", cache=tmp_path / "cache"))
    assert not changed["stages"]["translate"]["cached"] and changed["stages"]["transcribe"]["cached"]

    edited = json.loads(Path(first["script"]).read_text())
    for item in edited["segments"]:
        item["translation"] = item["translation"].replace("encarna", "simboliza")
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    resumed = dubkit(
        *args[:-1], terms, "--script", tmp_path / "edited.json", "-o", tmp_path / "c", cache=tmp_path / "cache"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"line {line.id}: 'symbolises' must read 'encarna'" in resumed.stderr


def test_the_preset_glossary_is_found_beside_the_preset(tmp_path):
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.stages import translate
    from dubkit.stages.base import Backends, Context

    write(tmp_path, '[terms]\n"the Council" = "el Consejo"\n')
    (tmp_path / "series-preset.toml").write_text('[translate]\nglossary = "series.toml"\n')
    ctx = Context(Cache(tmp_path / "cache"), load_preset(str(tmp_path / "series-preset.toml")), Backends())
    assert translate.load_glossary(ctx, "es").terms == {"the Council": "el Consejo"}


def test_a_bad_glossary_fails_before_any_work(tmp_path, shared_media):
    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    done = dubkit("translate", clip, "--to", "es", "--glossary", tmp_path / "nope.toml", cache=tmp_path / "cache")
    assert done.returncode == 2 and "nope.toml: cannot read glossary" in done.stderr
    assert not (tmp_path / "cache" / "ingest").exists()
