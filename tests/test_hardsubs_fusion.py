"""Fusion of burned-in subtitles with speech recognition (`dubkit.hardsubs.fusion`), and what the script and the QA
report keep of it: hand-made cues over a hand-made two-speaker transcript with word times."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from dubkit.config import Thresholds
from dubkit.hardsubs.cues import Cue
from dubkit.hardsubs.fusion import cleaned_text, fuse, ocr_asr_cer, shown_cues, transcribes
from dubkit.qa import report
from dubkit.qa.heard import Heard
from dubkit.qa.html import build_html
from dubkit.script import Script, Segment, Transcript, Word
from tests.qa_fixtures import SCHEMA_PATH, example_report

pytest.importorskip("opencc", reason="the zh extra (opencc) folds Traditional into Simplified")
pytest.importorskip("jiwer", reason="the qa extra (jiwer) scores the character error")


def _words(start_ms: int, *texts: str, each_ms: int = 250) -> tuple[Word, ...]:
    return tuple(Word(start_ms + i * each_ms, start_ms + (i + 1) * each_ms, text) for i, text in enumerate(texts))


def _line(line_id: str, speaker: str, words: tuple[Word, ...], confidence: float = 0.9) -> Segment:
    text = "".join(w.text for w in words)
    return Segment(line_id, words[0].start_ms, words[-1].end_ms, text, speaker, words=words, confidence=confidence)


def _cue(start_s: float, end_s: float, text: str) -> Cue:
    return Cue(round(start_s * 25), round(end_s * 25), start_s, end_s, text, 0.95)


# S1 says a sentence at 1.0-2.5 s (Whisper wrote it in Traditional); S2 answers at 3.1-4.1 s; S1 adds an aside at
# 6.0-6.5 s that no subtitle shows; at 8-10 s a title card is shown over silence.
ASKED = _line("L0001", "S1", _words(1000, "我", "從來", "沒有", "放棄", "過", "夢想"))
ANSWER = _line("L0002", "S2", _words(3100, "你", "真的", "這麼", "想"), confidence=0.7)
ASIDE = _line("L0003", "S1", _words(6000, "好", "吧"))
TRANSCRIPT = Transcript("zh", (ASKED, ANSWER, ASIDE))
CUES = (
    _cue(0.8, 2.9, "我从来没有放弃过梦想"),
    _cue(2.9, 4.6, "你 真的 这么想？"),
    _cue(8.0, 10.0, "第一集"),
)


def test_each_cue_with_speech_is_a_line_with_its_text_timed_and_attributed_by_the_words_under_it():
    fused = fuse(CUES, TRANSCRIPT, "zh")
    first, second, aside = fused.segments
    assert (first.text, first.start_ms, first.end_ms, first.speaker) == ("我从来没有放弃过梦想", 1000, 2500, "S1")
    assert first.words == ASKED.words and first.confidence == 0.9
    assert first.heard == "我從來沒有放棄過夢想" and first.heard_cer == 0.0  # Traditional heard, Simplified read
    assert (second.text, second.start_ms, second.end_ms, second.speaker) == ("你真的这么想？", 3100, 4100, "S2")
    assert second.confidence == 0.7 and second.heard_cer == 0.0  # the OCR's spaces and "？" do not count
    assert [s.id for s in fused.segments] == ["L0001", "L0002", "L0003"]
    assert fused.language == "zh"


def test_speech_no_cue_covers_is_kept_and_a_cue_over_silence_is_left_out(caplog):
    with caplog.at_level(logging.INFO, logger="dubkit.hardsubs.fusion"):
        fused = fuse(CUES, TRANSCRIPT, "zh")
    aside = fused.segments[-1]
    assert (aside.text, aside.heard, aside.heard_cer) == ("好吧", "好吧", None)
    assert (aside.start_ms, aside.end_ms, aside.speaker, aside.words) == (6000, 6500, "S1", ASIDE.words)
    assert "第一集" not in [s.text for s in fused.segments]
    assert "1 subtitles with no speech under them left out as captions (at 8.0 s)" in caplog.text
    assert "1 lines of speech no subtitle covers" in caplog.text


def test_words_just_outside_a_cue_are_still_its_and_the_speaker_is_who_says_most():
    early = _line("L0001", "S1", _words(700, "等", "一下"))  # 0.7-1.2 s: before the cue comes up at 1.0 s
    long = _line("L0002", "S2", _words(1200, "我", "还", "没", "说完", each_ms=400))  # 1.2-2.8 s
    fused = fuse([_cue(1.0, 2.6, "等一下我还没说完")], Transcript("zh", (early, long)), "zh")
    (line,) = fused.segments
    assert (line.start_ms, line.end_ms, line.speaker) == (700, 2800, "S2")  # S2: 1.6 s of the 2.1 s
    assert line.words == early.words + long.words and line.heard_cer == 0.0
    assert line.confidence == pytest.approx(0.9)


def test_a_cue_over_a_recognised_line_whose_words_went_elsewhere_is_kept_and_marked_not_heard():
    spoken = Segment(
        "L0001", 1000, 5000, "走吧快走", "S2", words=_words(1000, "走", "吧") + _words(4500, "快", "走"), confidence=0.8
    )
    cues = [_cue(0.9, 1.6, "走吧"), _cue(2.5, 3.5, "别回头"), _cue(4.4, 5.2, "快走")]
    fused = fuse(cues, Transcript("zh", (spoken,)), "zh")
    assert [s.text for s in fused.segments] == ["走吧", "别回头", "快走"]
    unheard = fused.segments[1]
    assert (unheard.start_ms, unheard.end_ms, unheard.speaker) == (2500, 3500, "S2")  # the cue's own times
    assert (unheard.heard, unheard.heard_cer, unheard.words) == ("", 1.0, ())


def test_a_misread_or_an_ad_lib_shows_in_the_character_error_rate():
    said = _line("L0001", "S1", _words(1000, "我", "不", "去", "了"))
    fused = fuse([_cue(0.9, 2.2, "我们明天见")], Transcript("zh", (said,)), "zh")
    assert fused.segments[0].text == "我们明天见" and fused.segments[0].heard == "我不去了"
    assert fused.segments[0].heard_cer == pytest.approx(0.8)  # 4 of 5 characters wrong
    assert ocr_asr_cer("電話號碼", "电话号码", "zh") == 0.0
    assert ocr_asr_cer("Hello, World!", "hello world", "en") == 0.0
    assert ocr_asr_cer("你好", "", "zh") == 1.0 and ocr_asr_cer("", "", "zh") == 0.0


def test_subtitles_in_another_language_than_the_speech_are_no_transcript_of_it():
    russian = Transcript("ru", (_line("L0001", "S1", _words(1000, "Всем ", "привет")),))
    translated = fuse((_cue(0.8, 2.0, "大家好"),), russian, "ru")  # Chinese subtitles burned over Russian speech
    assert translated.segments[0].heard_cer > 1 and not transcribes(translated)  # every letter wrong, and more
    assert transcribes(fuse(CUES, TRANSCRIPT, "zh"))
    misread = fuse((CUES[0], replace(CUES[1], text="他们都想走")), TRANSCRIPT, "zh")  # one line of two misread
    assert transcribes(misread)
    assert transcribes(TRANSCRIPT)  # nothing fused: nothing to doubt


def test_consecutive_cues_of_one_sentence_stay_lines_unless_one_is_too_short_to_be_said():
    split = [_cue(1.0, 2.5, "我从来没有"), _cue(2.5, 4.0, "放弃过梦想")]
    assert [s.text for s in shown_cues(split)] == ["我从来没有", "放弃过梦想"]
    flashed = [_cue(1.0, 1.2, "我从来没有"), _cue(1.28, 3.0, "放弃过梦想")]  # 5 characters in 0.2 s
    (joined,) = shown_cues(flashed)
    assert (joined.text, joined.start_ms, joined.end_ms) == ("我从来没有放弃过梦想", 1000, 3000)
    trailing = [_cue(1.0, 3.0, "Wait for me"), _cue(3.1, 3.3, "at the station tonight")]  # no cue after it
    (kept,) = shown_cues(trailing)
    assert (kept.text, kept.end_ms) == ("Wait for me at the station tonight", 3300)


def test_cue_text_is_cleaned_of_the_gaps_ocr_reads_as_spaces():
    assert cleaned_text(" 你 真的\n这么想？ ") == "你真的这么想？"
    assert cleaned_text("Wait  for\tme") == "Wait for me"
    assert shown_cues([_cue(1.0, 2.0, "  ")]) == []


def test_the_script_json_keeps_both_texts_and_older_scripts_still_load():
    line = Segment(
        "L0001", 1000, 2500, "我们明天见", "S1", translation="See you tomorrow", heard="我不去了", heard_cer=0.8
    )
    script = Script("zh", "en", (line, Segment("L0002", 3000, 4000, "好吧", heard="好吧")))
    again = Script.from_json(script.to_json())
    assert again == script and again.segments[0].heard_cer == 0.8
    older = json.loads(script.to_json())
    for item in older["segments"]:
        del item["heard"], item["heard_cer"]
    loaded = Script.from_json(json.dumps(older))
    assert [(s.heard, s.heard_cer) for s in loaded.segments] == [("", None), ("", None)]


def _report_line(segment: Segment) -> dict:
    script = Script("zh", "en", (segment,))
    line = report.line_report(segment, None, Heard(segment.translation, 1000, 2400), (None, None), script)
    line["flags"] = report.line_flags(line, None, Thresholds(), "en")
    return line


def test_qa_flags_a_line_whose_subtitle_and_speech_disagree_and_shows_both():
    import jsonschema

    base = Segment("L0001", 1000, 2500, "我们明天见", "S1", translation="See you tomorrow")
    misread = _report_line(replace(base, heard="我不去了", heard_cer=0.8))
    assert misread["source_asr"] == {"text": "我不去了", "cer": 0.8} and misread["flags"] == ["ocr_asr"]
    close = _report_line(replace(base, heard="我们明天间", heard_cer=0.2))
    assert close["flags"] == []
    plain = _report_line(base)  # its text is the recognised speech: nothing to compare
    assert plain["source_asr"] is None and plain["flags"] == []
    found = example_report(3)
    found["languages"]["source"] = "zh"
    found["lines"][0] |= {"text": "我们明天见", "source_asr": misread["source_asr"], "flags": ["ocr_asr"]}
    found["episode"]["lines"]["flagged"] = sum(bool(line["flags"]) for line in found["lines"])
    jsonschema.validate(found, json.loads(SCHEMA_PATH.read_text()))
    page = build_html(found)
    assert "我们明天见" in page and "我不去了" in page and "CER 80 %" in page
    assert "burned-in vs speech" in page and 'class="said out-text"' in page
