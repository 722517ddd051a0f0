"""Mandarin text: lines cut between words (jieba), Simplified or Traditional script (OpenCC), no empty translation.

Transcripts are built as Whisper writes Chinese: one timed word per token of one or two characters, which often
straddles two words, with punctuation glued to the token before it. The sentences are FLORES-200 `zho_Hans`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dubkit import languages
from dubkit.errors import StageFailed
from dubkit.script import Segment, Word
from dubkit.script.sentences import PARTICLES, UNSPACED_MAX_MS, merge_sentences
from dubkit.stages.transcribe import in_script
from dubkit.stages.translate import check_not_empty

jieba = pytest.importorskip("jieba")
pytest.importorskip("opencc")

CHAR_MS = 220  # read Mandarin: four to five characters a second
PUNCTUATION = "。！？…，、；：“”《》（）"


@pytest.fixture(scope="module")
def flores(shared_media: Path) -> list[str]:
    """The sentences written in Han characters and Chinese punctuation alone (no digits, Latin or dashes)."""
    text = (shared_media / "text" / "flores200_devtest" / "zho_Hans.devtest").read_text(encoding="utf-8")
    return [s for s in text.splitlines() if all("\u4e00" <= char <= "\u9fff" or char in PUNCTUATION for char in s)]


def whisper_words(text: str, start_ms: int = 0, gaps: dict[int, int] | None = None) -> tuple[Word, ...]:
    """*text* as Whisper times Chinese: tokens of 1, 2, 2, 1, 2 ... characters regardless of words, punctuation
    appended to the token before it; `gaps` adds silence before the character at that index."""
    tokens: list[tuple[int, str]] = []
    index, sizes = 0, itertools.cycle((1, 2, 2, 1, 2))
    while index < len(text):
        if text[index] in PUNCTUATION and tokens:
            tokens[-1] = (tokens[-1][0], tokens[-1][1] + text[index])
            index += 1
            continue
        size = next(sizes)
        tokens.append((index, text[index : index + size]))
        index += size
    out, t = [], start_ms
    for first, token in tokens:
        t += (gaps or {}).get(first, 0)
        letters = sum(char not in PUNCTUATION for char in token)
        out.append(Word(t, t + letters * CHAR_MS - 10, token))
        t += letters * CHAR_MS
    return tuple(out)


def transcript(*texts: str, pause_ms: int = 300) -> tuple[Segment, ...]:
    """One Whisper segment per text, `pause_ms` apart."""
    segments, t = [], 0
    for number, text in enumerate(texts):
        ws = whisper_words(text, t)
        segments.append(Segment(f"s{number}", ws[0].start_ms, ws[-1].end_ms, text, words=ws))
        t = ws[-1].end_ms + pause_ms
    return tuple(segments)


def word_ends(text: str) -> set[int]:
    """Character offsets in *text* where a jieba word ends."""
    return {end for _, _, end in jieba.tokenize(text)}


def line_ends(lines: tuple[Segment, ...]) -> list[int]:
    return list(itertools.accumulate(len(line.text) for line in lines))


def test_lines_are_never_cut_inside_a_word(flores):
    long_ones = [s for s in flores if len(s) > 40][:30]  # each over 9 s of speech
    for sentence in long_ones:
        lines = merge_sentences(transcript(sentence), language="zh")
        assert "".join(line.text for line in lines) == sentence
        assert len(lines) >= 2, sentence
        assert set(line_ends(lines)) <= word_ends(sentence), [line.text for line in lines]


def test_the_token_boundaries_do_straddle_words(flores):
    """The check above means something: many token boundaries of these transcripts fall inside a word."""
    sentence = next(s for s in flores if len(s) > 40)
    token_ends = set(itertools.accumulate(len(w.text) for w in whisper_words(sentence)))
    assert len(token_ends - word_ends(sentence)) >= 5


def test_cjk_sentence_punctuation_ends_lines(flores):
    short = [s for s in flores if len(s) <= 16 and s[-1] in "。！？"][:6]
    lines = merge_sentences(transcript(*short), language="zh")
    assert [line.text for line in lines] == short
    assert lines[0].words[0].start_ms == 0 and lines[1].start_ms > lines[0].end_ms


def test_lines_have_a_dramas_length(flores):
    long_ones = [s for s in flores if len(s) > 60][:20]
    lines = merge_sentences(transcript(*long_ones), language="zh")
    assert all(line.duration_ms <= UNSPACED_MAX_MS for line in lines)
    assert "".join(line.text for line in lines) == "".join(long_ones)
    english = merge_sentences(transcript(*long_ones), language="en")  # the English rules: 12 s blocks
    assert max(line.duration_ms for line in english) > UNSPACED_MAX_MS


def test_a_long_run_is_cut_at_a_comma(flores):
    sentence = next(s for s in flores if s.count("，") == 1 and 30 < len(s) < 40)
    lines = merge_sentences(transcript(sentence), language="zh")
    assert len(lines) == 2 and lines[0].text.endswith("，"), [line.text for line in lines]


def test_a_long_run_without_punctuation_is_cut_at_its_pause(flores):
    sentence = next(s for s in flores if 30 < len(s) < 40)
    bare = "".join(char for char in sentence if char not in PUNCTUATION)
    token_starts = set(itertools.accumulate(len(w.text) for w in whisper_words(bare)))
    between_words = sorted(end for end in word_ends(bare) & token_starts if bare[end : end + 1] not in PARTICLES)
    pause_at = min(between_words, key=lambda end: abs(end - len(bare) * 0.35))  # off centre: the pause decides
    ws = whisper_words(bare, gaps={pause_at: 400})  # shorter than a pause that ends a line by itself
    lines = merge_sentences((Segment("s", 0, ws[-1].end_ms, bare, words=ws),), pause_ms=800, language="zh")
    assert len(lines[0].text) == pause_at, [line.text for line in lines]


def test_a_line_never_opens_with_a_particle():
    """万人敬仰的 | 太乙真人, never 万人敬仰 | 的太乙真人, even where 的 would balance the halves best."""
    text = "这就是我万人敬仰的太乙真人他从来没有放弃"
    ws = tuple(Word(i * 300, i * 300 + 290, char) for i, char in enumerate(text))  # one character a word
    lines = merge_sentences((Segment("s", 0, ws[-1].end_ms, text, words=ws),), language="zh")
    assert len(lines) > 1 and not any(line.text[0] in "的了吗呢吧" for line in lines), [x.text for x in lines]


def test_a_long_pause_ends_a_line_and_a_speaker_change_too():
    first, second = whisper_words("我能接受", 0), whisper_words("你呢", 2000)
    third = whisper_words("好的", 2600)
    segments = (
        Segment("a", 0, first[-1].end_ms, "我能接受", words=first),
        Segment("b", 2000, second[-1].end_ms, "你呢", words=second),
        Segment("c", 2600, third[-1].end_ms, "好的", speaker="S2", words=third),
    )
    lines = merge_sentences(segments, language="zh")
    assert [(line.text, line.speaker) for line in lines] == [("我能接受", "S1"), ("你呢", "S1"), ("好的", "S2")]


def test_segments_without_words_are_cut_at_punctuation_too():
    segment = Segment("a", 0, 20000, "我从来没有放弃成为一个伟大的作曲家，这是我的梦想。" * 2)
    lines = merge_sentences((segment,), language="zh")
    assert all(line.text[-1] in "，。" for line in lines) and len(lines) == 4


def test_traditional_script_becomes_simplified_for_zh_and_stays_for_zh_hant():
    text = "我從來沒有放棄成為一個偉大的作曲家"
    ws = whisper_words(text)
    segments = (Segment("a", 0, ws[-1].end_ms, text, words=ws),)
    simplified = in_script(segments, "zh")[0]
    assert simplified.text == "我从来没有放弃成为一个伟大的作曲家"
    assert "".join(w.text for w in simplified.words) == simplified.text
    assert [w.start_ms for w in simplified.words] == [w.start_ms for w in ws]
    assert in_script(segments, "zh-Hans")[0].text == simplified.text
    assert in_script(segments, "zh-Hant")[0] == segments[0]
    assert in_script((simplified,), "zh-Hant")[0].text == "我從來沒有放棄成爲一個偉大的作曲家"  # OpenCC's standard
    assert in_script((simplified,), "zh-TW")[0].text == text  # Taiwan's standard


def test_other_languages_are_left_as_they_are():
    segments = (Segment("a", 0, 1000, "Dónde está"),)
    assert in_script(segments, "es") is segments
    assert in_script(segments, "ja") is segments


@pytest.mark.parametrize(
    ("tag", "conversion"),
    [("zh", "t2s"), ("zh-Hans", "t2s"), ("zh-CN", "t2s"), ("zh-Hant", "s2t"), ("zh-TW", "s2tw"), ("zh-HK", "s2hk"),
     ("zh-Hans-TW", "t2s"), ("cmn", "t2s"), ("en", None), ("ja", None)],
)  # fmt: skip
def test_chinese_conversion_follows_the_tag(tag, conversion):
    assert languages.chinese_conversion(tag) == conversion


def line(id_: str, text: str, translation: str) -> Segment:
    return Segment(id_, 1500, 4000, text, translation=translation)


@pytest.mark.parametrize("empty", ["", "  ", "…", " ¿? "])
def test_an_empty_translation_names_the_line_and_the_engine(empty):
    lines = (line("L0001", "你好。", "Hello."), line("L0002", "我能接受", empty))
    with pytest.raises(StageFailed, match=r"translate/opus-mt .*L0002 at 1\.5 s '我能接受'.*script\.json"):
        check_not_empty(lines, "opus-mt", Path("cache/script.json"))


def test_a_line_without_words_may_stay_without_translation():
    check_not_empty((line("L0001", "……", ""), line("L0002", "嗯", "Hm")), "opus-mt", Path("script.json"))
