"""Versions of a line chosen by their measured length (`dubkit.script.isochrony`): the choice, the offline versions, the
translate stage's versions, an editor's pick, and the synthesize stage speaking the chosen one (espeak-ng: fast)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dubkit.backends.base import TranslationRequest
from dubkit.errors import ConfigError, StageFailed
from dubkit.fit import Slot
from dubkit.script import Script, Segment, Version, isochrony
from tests.test_routes import PairTranslator, stage_job

SLOT = Slot(1000, 3100)  # 2.10 s


def test_the_most_faithful_version_that_fits_at_a_natural_rate_is_chosen():
    chosen = isochrony.choose([2750, 1840, 1500], SLOT, 1.1)
    assert chosen.index == 1
    assert chosen.reason == "v2: 1.84 s for a 2.10 s slot; v1 needed 1.31×"


def test_a_version_within_the_natural_speed_counts_as_fitting():
    assert isochrony.choose([2300, 1500], SLOT, 1.1).index == 0  # 1.095× is natural
    assert isochrony.choose([2330, 1500], SLOT, 1.1).index == 1  # 1.11× is not


def test_when_none_fits_the_one_needing_the_least_speed_up_is_chosen():
    chosen = isochrony.choose([4000, 3000, 3500], SLOT, 1.1)
    assert chosen.index == 1
    assert chosen.reason == "v2: 3.00 s for a 2.10 s slot, 1.43×: the least of all (v1 needed 1.90×)"
    first = isochrony.choose([3000, 3000], SLOT, 1.1)
    assert first.index == 0 and "no version needs less" in first.reason


def test_no_versions_is_an_error():
    with pytest.raises(ValueError, match="no versions"):
        isochrony.choose([], SLOT, 1.1)


def test_offline_versions_are_the_translation_and_its_safe_condensations():
    versions = isochrony.offline_versions("Bueno, eh, no no sé, ¿sabes?", "Well, um, I don't know.", "es", "en")
    assert versions == (
        Version("Bueno, eh, no no sé, ¿sabes?", "mt"),
        Version("No sé, ¿sabes?", "mt:condensed"),
    )


def test_offline_versions_translate_the_condensed_source_and_drop_repeats():
    asked = []

    def translate(text: str) -> str:
        asked.append(text)
        return {"I think we should go.": "Creo que deberíamos ir."}.get(text, "")

    versions = isochrony.offline_versions(
        "Bueno, yo creo que deberíamos ir.", "Well, um, I think we should go.", "es", "en", translate
    )
    assert asked == ["I think we should go."]
    assert [v.kind for v in versions] == ["mt", "mt:condensed", "mt:condensed-source"]
    again = isochrony.offline_versions("Creo que deberíamos ir.", "Um, I think we should go.", "es", "en", translate)
    assert again == (Version("Creo que deberíamos ir.", "mt"),)  # nothing to condense; the same text is no version


def line(pick: str = "auto", translation: str = "Una frase larga de verdad.") -> Segment:
    versions = (Version("Una frase larga de verdad.", "mt"), Version("Frase corta.", "mt:condensed"))
    return Segment("L1", 0, 900, "A really long sentence.", translation=translation, versions=versions, pick=pick)


def test_the_pick_says_what_is_spoken():
    assert isochrony.spoken_by_choice(line())
    assert not isochrony.spoken_by_choice(line(translation="Lo que escribió el editor."))  # an editor's own text
    assert not isochrony.spoken_by_choice(line(pick="2")) and isochrony.picked(line(pick="2")) == "Frase corta."
    assert isochrony.picked(line(pick="")) == "Una frase larga de verdad."
    for bad in ("3", "0", "short"):
        with pytest.raises(ConfigError, match=rf"line L1: pick '{bad}' names no version \(use 1 to 2, auto"):
            isochrony.picked(line(pick=bad))


def test_versions_and_natural_speed_are_validated_in_the_preset(tmp_path):
    from dubkit.config import load_preset

    for bad in ("0", "6", "2.5", '"3"', "true"):
        (tmp_path / "p.toml").write_text(f"[translate]\nversions = {bad}\n")
        with pytest.raises(ConfigError, match="translate: versions must be a whole number from 1 to 5"):
            load_preset(str(tmp_path / "p.toml"))
    (tmp_path / "p.toml").write_text("[synthesize.fit]\nnatural_speed = 0.9\n")
    with pytest.raises(ConfigError, match="natural_speed must be a number ≥ 1"):
        load_preset(str(tmp_path / "p.toml"))
    (tmp_path / "p.toml").write_text("[translate]\nversions = 3\n[synthesize.fit]\nnatural_speed = 1.05\n")
    preset = load_preset(str(tmp_path / "p.toml"))
    assert preset.translate.versions == 3 and preset.synthesize.fit.natural_speed == 1.05


def test_an_edited_translation_in_any_export_is_spoken_as_written(tmp_path):
    from dubkit.script import formats

    base = Script("en", "es", (line(), dataclasses.replace(line(), id="L2", start_ms=1000, end_ms=1900)))
    for format_ in ("srt", "vtt", "csv"):
        exported = tmp_path / f"edited.{format_}"
        formats.export(base, exported, format_)
        exported.write_text(exported.read_text().replace("Una frase larga de verdad.", "Mi texto.", 1))
        merged = formats.merge_file(exported, base)
        assert [(s.translation, s.pick) for s in merged.segments] == [
            ("Mi texto.", ""),
            ("Una frase larga de verdad.", "auto"),
        ], format_


class VersionsTranslator(PairTranslator):
    """An engine that also says each line shorter (`Shortener`): per line, its table's versions; records slots."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        super().__init__([("en", "es")], {k: v[0] if v else "" for k, v in table.items()})
        self.versions = table

    def translate_versions(self, request: TranslationRequest, count: int) -> list[tuple[str, ...]]:
        self.requests.append(request)
        return [self.versions[text][:count] for text in request.texts]


def translate_stage(tmp_path: Path, monkeypatch, engine: PairTranslator, versions: int):
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.stages import routes, translate
    from dubkit.stages.base import Backends, Context

    monkeypatch.setattr(translate, "choose_route", lambda ctx, s, t: routes.plan([("eng", engine)], s, t))
    preset = tmp_path / "p.toml"
    preset.write_text(f"[translate]\nversions = {versions}\n")
    return translate, Context(Cache(tmp_path / "cache"), load_preset(str(preset)), Backends())


def test_a_shortener_is_asked_for_versions_with_each_lines_slot(tmp_path, monkeypatch):
    engine = VersionsTranslator({"Good morning.": ("Buenos días.", "Buen día.", "Hola."), "Yes.": ("Sí.", "Sí.")})
    translate, ctx = translate_stage(tmp_path, monkeypatch, engine, versions=3)
    job = dataclasses.replace(stage_job(tmp_path, "Good morning.", "Yes.", language="en"), duration_s=2.5)
    lines = translate.run(job, ctx).script.segments
    assert [(s.translation, s.pick) for s in lines] == [("Buenos días.", "auto"), ("Sí.", "auto")]
    assert lines[0].versions == (
        Version("Buenos días.", "llm:natural"),
        Version("Buen día.", "llm:shorter"),
        Version("Hola.", "llm:shortest"),
    )
    assert lines[1].versions == (Version("Sí.", "llm:natural"),)  # a repeat is no version
    # as synthesize fits them (dubkit.fit.slots): up to the next line less the gap; the last one up to the end
    assert engine.requests[-1].slots_ms == (2000 - 80 - 1000, 2500 - 2000)
    assert ctx.cache.meta(translate.run(job, ctx).artefacts["translate"].path)["preimage"]["options"]["versions"] == 3


def test_a_shortener_that_loses_a_line_fails_the_stage(tmp_path, monkeypatch):
    engine = VersionsTranslator({"Yes.": ()})
    translate, ctx = translate_stage(tmp_path, monkeypatch, engine, versions=2)
    with pytest.raises(StageFailed, match=r"translate/eng:en→es: returned versions for 1 lines of 1"):
        translate.run(stage_job(tmp_path, "Yes.", language="en"), ctx)


def test_an_offline_engine_gets_its_condensations_and_one_version_leaves_the_script_as_it_was(tmp_path, monkeypatch):
    table = {"Well, um, I think we go.": "Bueno, eh, creo que vamos.", "I think we go.": "Pienso que nos vamos."}
    translate, ctx = translate_stage(tmp_path, monkeypatch, PairTranslator([("en", "es")], table), versions=3)
    lines = translate.run(stage_job(tmp_path, "Well, um, I think we go.", language="en"), ctx).script.segments
    assert [v.kind for v in lines[0].versions] == ["mt", "mt:condensed", "mt:condensed-source"]
    assert lines[0].translation == "Bueno, eh, creo que vamos." and lines[0].pick == "auto"
    (tmp_path / "one").mkdir()
    single, ctx = translate_stage(tmp_path / "one", monkeypatch, PairTranslator([("en", "es")], table), versions=1)
    done = single.run(stage_job(tmp_path / "one", "Well, um, I think we go.", language="en"), ctx)
    assert (done.script.segments[0].versions, done.script.segments[0].pick) == ((), "")
    assert "versions" not in ctx.cache.meta(done.artefacts["translate"].path)["preimage"]["options"]


# --- the synthesize stage, with espeak-ng -------------------------------------------------------------------------

LONG = "Esta es una frase muy larga que nunca cabe en un segundo y medio, por mucho que se acelere la voz."
SHORT = "Frase corta."


def synth_job(tmp_path: Path, pick: str = "auto"):
    from dubkit.job import Artefact, Episode, Job

    versions = (Version(LONG, "mt"), Version(SHORT, "mt:condensed"))
    lines = (
        Segment("L1", 0, 1500, "A line.", translation=LONG, versions=versions, pick=pick),
        Segment("L2", 3000, 4500, "Another.", translation="Hola a todos."),
    )
    script = Script("en", "es", lines, ("S1",))
    job = Job(Episode(tmp_path / "x.mp4", "es", "en"), {"ingest": Artefact("i" * 64, tmp_path, True)}, script=script)
    return dataclasses.replace(job, duration_s=6.0)


@pytest.fixture
def synth_ctx(tmp_path):
    from dubkit.backends import registry
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.stages.base import Backends, Context

    available, why = registry.availability(registry.spec("tts", "espeak"))
    if not available:
        pytest.skip(f"espeak-ng is not installed: {why}")
    preset = tmp_path / "p.toml"
    preset.write_text('[synthesize]\nfallback_voice = "espeak-default"\n')
    return Context(Cache(tmp_path / "cache"), load_preset(str(preset)), Backends())


def test_a_line_too_long_for_its_slot_speaks_a_shorter_version(tmp_path, synth_ctx):
    from dubkit.config import SubtitleConfig
    from dubkit.stages import synthesize
    from dubkit.subtitles import layout

    first = synthesize.run(synth_job(tmp_path), synth_ctx)
    spoken = first.script.segments[0]
    assert spoken.translation == SHORT and spoken.pick == "auto"
    long_ms, short_ms = (v.speech_ms for v in spoken.versions)
    assert long_ms is not None and short_ms is not None and long_ms > 1.1 * 1500 >= short_ms
    assert spoken.choice.startswith(f"v2: {short_ms / 1000:.2f} s for a ") and "v1 needed" in spoken.choice
    assert [line.version for line in first.lines] == [2, 0] and first.lines[0].synthesized
    assert first.lines[0].speed == 1.0 and first.lines[0].overflow_ms == 0
    layout.write(first.script, first.lines, tmp_path / "dub.srt", SubtitleConfig())
    assert SHORT in (tmp_path / "dub.srt").read_text() and "muy larga" not in (tmp_path / "dub.srt").read_text()

    again = synthesize.run(synth_job(tmp_path), synth_ctx)
    assert again.artefacts["synthesize"].cached and not any(line.synthesized for line in again.lines)
    assert again.script == first.script
    resumed = dataclasses.replace(synth_job(tmp_path), script=first.script)  # from the delivered script.json
    assert synthesize.run(resumed, synth_ctx).artefacts["synthesize"].cached


def test_an_editors_pick_speaks_that_version(tmp_path, synth_ctx):
    from dubkit.stages import synthesize

    auto = synthesize.run(synth_job(tmp_path), synth_ctx)
    picked = synthesize.run(synth_job(tmp_path, pick="1"), synth_ctx)
    assert picked.script.segments[0].translation == LONG and picked.script.segments[0].choice == "v1: the editor's pick"
    assert picked.lines[0].version == 1 and picked.lines[0].speed > 1.0  # sped up: the editor's choice
    assert not picked.artefacts["synthesize"].cached and picked.lines[0].end_ms > auto.lines[0].end_ms
    assert [line.synthesized for line in picked.lines] == [True, False]  # only the fast take is new


def test_a_bad_pick_fails_before_any_synthesis(tmp_path, synth_ctx):
    from dubkit.stages import synthesize

    with pytest.raises(ConfigError, match="line L1: pick '3' names no version"):
        synthesize.run(synth_job(tmp_path, pick="3"), synth_ctx)
    assert not list((tmp_path / "cache").glob("tts/*/*"))


def test_the_script_round_trips_versions_pick_and_choice(tmp_path):
    script = Script("en", "es", (dataclasses.replace(line(), choice="v2: why"),))
    script.save(tmp_path / "s.json")
    assert Script.load(tmp_path / "s.json") == script
    assert json.loads((tmp_path / "s.json").read_text())["segments"][0]["pick"] == "auto"


# --- the review report --------------------------------------------------------------------------------------------


def test_the_review_report_says_which_version_is_spoken_and_why():
    import jsonschema

    from dubkit.config import Thresholds
    from dubkit.qa import report
    from dubkit.qa.heard import Heard
    from dubkit.qa.html import build_html
    from tests.qa_fixtures import SCHEMA_PATH, example_report

    versions = (Version(LONG, "llm:natural", 5200), Version(SHORT, "llm:shorter", 1100))
    reason = "v2: 1.10 s for a 1.50 s slot; v1 needed 3.47×"
    chosen = Segment("L1", 0, 1500, "A line.", translation=SHORT, versions=versions, pick="auto", choice=reason)
    script = Script("en", "es", (chosen,))
    line = report.line_report(chosen, None, Heard(SHORT, 0, 1100), (None, None), script)
    assert line["version"] == {"spoken": 2, "of": 2, "kind": "llm:shorter", "choice": reason}
    edited = dataclasses.replace(chosen, translation="Mi texto.", pick="", choice="the translation as written")
    assert report.line_report(edited, None, Heard("", None, None), (None, None), script)["version"]["spoken"] == 0
    plain = dataclasses.replace(chosen, versions=(), pick="", choice="")
    assert report.line_report(plain, None, Heard("", None, None), (None, None), script)["version"] is None

    found = example_report(3)
    found["lines"][0] |= {"translation": SHORT, "version": line["version"]}
    line["flags"] = report.line_flags(line, None, Thresholds(), "es")
    jsonschema.validate(found, json.loads(SCHEMA_PATH.read_text()))
    page = build_html(found)
    assert "(llm:shorter, 2 versions) v2: 1.10 s for a 1.50 s slot" in page
