"""Translation routes: a direct engine wins, else two chained through English; each line records its route.

The engines here are small in-test Translators with fixed pairs (the routing logic is what is tested; the real
engines run in tests/test_mandarin_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubkit.backends.base import TranslationRequest
from dubkit.errors import ConfigError, StageFailed
from dubkit.stages import routes

SPANISH = {"Yes.": "Sí.", "Good morning.": "Buenos días."}


class PairTranslator:
    """Translates its pairs by looking lines up in *table* (an unknown line comes back empty); records calls."""

    def __init__(self, pairs: list[tuple[str, str]], table: dict[str, str], version: str = "1") -> None:
        self._pairs, self.table, self.version = pairs, table, version
        self.requests: list[TranslationRequest] = []

    def fingerprint(self) -> dict[str, str]:
        return {"library": f"pairs {self.version}"}

    def load(self) -> None:
        return None

    def close(self) -> None:
        return None

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in self._pairs

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def translate(self, request: TranslationRequest) -> list[str]:
        self.requests.append(request)
        return [self.table.get(text, "") for text in request.texts]


def speech() -> PairTranslator:
    """Like Whisper's speech translation: any of a few languages → en."""
    return PairTranslator([("zh", "en"), ("ja", "en")], {"对。": "Yes.", "早上好。": "Good morning."})


def rules() -> PairTranslator:
    """Like apertium: en ↔ es."""
    return PairTranslator([("en", "es"), ("es", "en")], SPANISH | {v: k for k, v in SPANISH.items()})


def test_a_direct_engine_wins_over_a_chain():
    direct = PairTranslator([("zh", "es")], {"对。": "Eso es."})
    route = routes.plan([("speech", speech()), ("rules", rules()), ("direct", direct)], "zh", "es")
    assert route.label == "direct:zh→es" and route.legs[0].backend is direct


def test_without_a_direct_engine_two_are_chained_through_english():
    into, out_of = speech(), rules()
    route = routes.plan([("rules", out_of), ("speech", into)], "zh", "es")
    assert route.label == "speech:zh→en rules:en→es"
    request = TranslationRequest(("对。", "早上好。"), "zh", "es", spans=((0, 900), (1000, 2000)), audio=Path("a.wav"))
    english, spanish = route.translate(request)
    assert english == ("Yes.", "Good morning.") and spanish == ("Sí.", "Buenos días.")
    second = out_of.requests[0]
    assert (second.source, second.target, second.texts) == ("en", "es", english)
    assert second.spans == request.spans and second.audio == request.audio  # the span of each line travels on
    assert route.describe(english[:1]) == 'speech:zh→en "Yes." rules:en→es'


def test_the_first_engine_in_preset_order_takes_each_leg():
    later = PairTranslator([("zh", "en")], {})
    route = routes.plan([("speech", speech()), ("later", later), ("rules", rules())], "zh", "es")
    assert route.label == "speech:zh→en rules:en→es"


def test_a_chain_is_keyed_on_both_legs():
    route = routes.plan([("speech", speech()), ("rules", rules())], "zh", "es")
    changed = routes.plan([("speech", speech()), ("rules", PairTranslator([("en", "es")], {}, "2"))], "zh", "es")
    assert set(route.fingerprint()) == {"speech:zh→en", "rules:en→es"}
    assert route.fingerprint() != changed.fingerprint()
    direct = routes.plan([("rules", rules())], "en", "es")
    assert direct.fingerprint() == {"library": "pairs 1"} and direct.describe(()) == "rules:en→es"


@pytest.mark.parametrize(("source", "target"), [("zh", "fr"), ("en", "fr"), ("fr", "en"), ("ko", "es")])
def test_an_unreachable_pair_is_a_config_error_listing_what_exists(source, target):
    with pytest.raises(ConfigError, match=rf"{source} → {target}.*speech: ja,zh→en; rules: es→en en→es"):
        routes.plan([("speech", speech()), ("rules", rules())], source, target)


def test_nothing_usable_says_so():
    with pytest.raises(ConfigError, match="no translation backend is installed"):
        routes.plan([], "zh", "es")


def test_a_leg_returning_too_few_lines_fails_the_stage():
    short = PairTranslator([("en", "es")], {})
    short.translate = lambda request: ["uno"]  # type: ignore[method-assign]
    route = routes.plan([("speech", speech()), ("short", short)], "zh", "es")
    with pytest.raises(StageFailed, match=r"translate/short: returned 1 lines for 2"):
        route.translate(TranslationRequest(("对。", "早上好。"), "zh", "es"))


def test_route_text_with_quotes_stays_one_json_string():
    route = routes.plan([("speech", speech()), ("rules", rules())], "zh", "es")
    described = route.describe(['He said "no".'])
    assert json.loads(described.split(" ", 1)[1].rsplit(" ", 1)[0]) == 'He said "no".'


def stage_job(tmp_path: Path, *texts: str, language: str = "zh"):
    """A job whose transcript (in *language*) holds *texts*, one second each, for the translate stage into Spanish;
    its speech track is silence (no speaker's pitch is known)."""
    import numpy as np

    from dubkit import audio
    from dubkit.job import Artefact, Episode, Job
    from dubkit.script import Segment, Transcript
    from dubkit.stages import transcribe

    entry = tmp_path / "transcribe"
    entry.mkdir()
    segments = tuple(Segment(f"L{i}", i * 1000, i * 1000 + 900, text) for i, text in enumerate(texts, 1))
    transcribe.save(entry / "transcript.json", Transcript(language, segments))
    audio.write_wav(tmp_path / "speech.wav", np.zeros(16000 * (len(texts) + 1), dtype=np.float32), 16000)
    artefacts = {"ingest": Artefact("i" * 64, tmp_path, True), "transcribe": Artefact("t" * 64, entry, True)}
    return Job(Episode(tmp_path / "x.mp4", "es"), artefacts)


@pytest.fixture
def chained_stage(tmp_path, monkeypatch):
    """The translate stage with the preset's engines replaced by the two above."""
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.stages import translate
    from dubkit.stages.base import Backends, Context

    engines = [("speech", speech()), ("rules", rules())]
    monkeypatch.setattr(translate, "choose_route", lambda ctx, source, target: routes.plan(engines, source, target))
    return translate, Context(Cache(tmp_path / "cache"), load_preset(), Backends())


def test_the_stage_records_each_lines_route_and_its_english(tmp_path, chained_stage):
    translate, ctx = chained_stage
    done = translate.run(stage_job(tmp_path, "对。", "早上好。"), ctx)
    lines = done.script.segments
    assert [line.translation for line in lines] == ["Sí.", "Buenos días."]
    assert [line.route for line in lines] == [
        'speech:zh→en "Yes." rules:en→es',
        'speech:zh→en "Good morning." rules:en→es',
    ]
    preimage = ctx.cache.meta(done.artefacts["translate"].path)["preimage"]
    assert preimage["fingerprint"] == {"speech:zh→en": {"library": "pairs 1"}, "rules:en→es": {"library": "pairs 1"}}
    assert preimage["options"]["route"] == "speech:zh→en rules:en→es"


def test_a_chained_line_left_empty_fails_the_stage(tmp_path, chained_stage):
    translate, ctx = chained_stage
    with pytest.raises(StageFailed, match=r"translate/speech:zh→en rules:en→es .*L2 at 2\.0 s '你好。'"):
        translate.run(stage_job(tmp_path, "对。", "你好。"), ctx)


def test_a_direct_line_records_its_one_engine(tmp_path, chained_stage):
    translate, ctx = chained_stage
    done = translate.run(stage_job(tmp_path, "Good morning.", language="en"), ctx)
    assert [(line.translation, line.route) for line in done.script.segments] == [("Buenos días.", "rules:en→es")]
