"""merge_sentences: regrouping ASR segments into sentence-like lines (hand-made segments, no models)."""

from __future__ import annotations

from dubkit.script import Segment, Word
from dubkit.script.sentences import ends_sentence, join_words, merge_sentences


def words(text: str, start: int = 0, step: int = 300, gaps: dict[int, int] | None = None) -> tuple[Word, ...]:
    """One Word per space-separated token, `step` ms each; `gaps` adds silence before token i."""
    out, t = [], start
    for index, token in enumerate(text.split()):
        t += (gaps or {}).get(index, 0)
        out.append(Word(t, t + step - 20, token))
        t += step
    return tuple(out)


def segment(seg_id: str, ws: tuple[Word, ...], speaker: str = "S1") -> Segment:
    return Segment(seg_id, ws[0].start_ms, ws[-1].end_ms, " ".join(w.text for w in ws), speaker=speaker, words=ws)


def test_sentence_cut_mid_way_is_rejoined_and_split_at_full_stops() -> None:
    ws = words("And so my fellow Americans. Ask not what your country can do for you, ask what you can do.")
    segments = (segment("a", ws[:4]), segment("b", ws[4:11]), segment("c", ws[11:]))
    lines = merge_sentences(segments)
    assert [line.text for line in lines] == [
        "And so my fellow Americans.",
        "Ask not what your country can do for you, ask what you can do.",
    ]
    assert [line.id for line in lines] == ["L0001", "L0002"]
    assert (lines[0].start_ms, lines[0].end_ms) == (ws[0].start_ms, ws[4].end_ms)
    assert (lines[1].start_ms, lines[1].end_ms) == (ws[5].start_ms, ws[-1].end_ms)
    assert lines[1].words == ws[5:]


def test_question_exclamation_and_ellipsis_end_lines() -> None:
    ws = words("Really? Yes! Well… ¿Qué pasa? Fine")
    assert [line.text for line in merge_sentences((segment("a", ws),))] == [
        "Really?",
        "Yes!",
        "Well…",
        "¿Qué pasa?",
        "Fine",
    ]


def test_pause_ends_a_line_even_without_punctuation() -> None:
    ws = words("we went home then we slept", gaps={3: 900})
    lines = merge_sentences((segment("a", ws),), pause_ms=800)
    assert [line.text for line in lines] == ["we went home", "then we slept"]
    assert [line.text for line in merge_sentences((segment("a", ws),), pause_ms=1000)] == ["we went home then we slept"]


def test_speaker_change_ends_a_line() -> None:
    first, second = words("hello there", 0), words("hi you", 700)
    lines = merge_sentences((segment("a", first, "S1"), segment("b", second, "S2")))
    assert [(line.text, line.speaker) for line in lines] == [("hello there", "S1"), ("hi you", "S2")]


def test_abbreviations_do_not_end_sentences() -> None:
    ws = words("Mr. Smith met Dr. Jones in the U.S. yesterday.")
    assert [line.text for line in merge_sentences((segment("a", ws),))] == [
        "Mr. Smith met Dr. Jones in the U.S. yesterday."
    ]


def test_long_line_is_split_at_the_best_comma() -> None:
    text = "one two three four five six seven, eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    ws = words(text, step=1000)  # 16 s without a full stop
    lines = merge_sentences((segment("a", ws),), max_ms=12000)
    assert [line.text for line in lines] == [
        "one two three four five six seven,",
        "eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
    ]
    assert all(line.duration_ms <= 12000 for line in lines)


def test_long_line_without_commas_is_split_at_the_longest_pause() -> None:
    ws = words("a b c d e f g h i j k l m n o p", step=1000, gaps={6: 500})
    lines = merge_sentences((segment("a", ws),), max_ms=12000, pause_ms=800)
    assert [line.text for line in lines] == ["a b c d e f", "g h i j k l m n o p"]


def test_very_long_line_is_split_repeatedly() -> None:
    ws = words(" ".join(f"w{i}" for i in range(40)), step=1000)
    lines = merge_sentences((segment("a", ws),), max_ms=12000)
    assert len(lines) >= 4 and all(line.duration_ms <= 12000 for line in lines)
    assert " ".join(line.text for line in lines) == " ".join(w.text for w in ws)


def test_cjk_is_joined_without_spaces() -> None:
    ws = tuple(Word(i * 200, i * 200 + 180, t) for i, t in enumerate(["我", "很", "好。", "你", "呢？"]))
    lines = merge_sentences((segment("a", ws),))
    assert [line.text for line in lines] == ["我很好。", "你呢？"]


def test_segments_without_words_fall_back_to_segment_text() -> None:
    segments = (
        Segment("a", 0, 3000, "The first sentence. The second", speaker="S2", confidence=0.8),
        Segment("b", 3000, 5000, "one ends here.", speaker="S2", confidence=0.6),
        Segment("c", 5000, 6000, "你好。谢谢！"),
    )
    lines = merge_sentences(segments)
    assert [line.text for line in lines] == ["The first sentence.", "The second one ends here.", "你好。", "谢谢！"]
    assert [line.speaker for line in lines] == ["S2", "S2", "S1", "S1"]
    assert lines[0].start_ms == 0 and 1000 < lines[0].end_ms < 3000
    assert lines[1].end_ms == 5000 and lines[1].words == ()
    assert lines[1].confidence == 0.7
    assert all(a.end_ms <= b.start_ms for a, b in zip(lines, lines[1:], strict=False))


def test_ids_follow_time_order_and_times_are_valid() -> None:
    later, earlier = words("second line.", 5000), words("first line.", 0)
    lines = merge_sentences((segment("z", later), segment("y", earlier)))
    assert [(line.id, line.text) for line in lines] == [("L0001", "first line."), ("L0002", "second line.")]
    assert all(line.end_ms > line.start_ms for line in lines)


def test_empty_input() -> None:
    assert merge_sentences(()) == ()


def test_join_words_spacing() -> None:
    assert join_words(["Hello", ",", "world", "!", "¿", "Qué", "?"]) == "Hello, world! ¿Qué?"
    assert join_words(["안녕하세요", "여러분"]) == "안녕하세요 여러분"
    assert join_words(["東京", "に", "行く"]) == "東京に行く"


def test_join_words_keeps_hyphenated_words_whole() -> None:
    assert join_words(["an", "ill", "-disposed", "man"]) == "an ill-disposed man"
    assert join_words(["twenty-", "five", "years"]) == "twenty-five years"
    assert join_words(["wait", "-", "what?"]) == "wait - what?"


def test_ends_sentence() -> None:
    assert ends_sentence("done.") and ends_sentence('"done."') and ends_sentence("好。")
    assert not ends_sentence("Mr.") and not ends_sentence("e.g.") and not ends_sentence("word,")


def test_the_language_changes_nothing_for_spaced_scripts_and_japanese() -> None:
    ws = words(" ".join(f"w{i}" for i in range(40)), step=1000, gaps={7: 500})
    segments = (segment("a", ws[:20]), segment("b", ws[20:], "S2"))
    plain = merge_sentences(segments)
    assert all(merge_sentences(segments, language=tag) == plain for tag in ("en", "es", "pt-BR", "ja", ""))
    assert max(line.duration_ms for line in plain) > 7000  # the Chinese 5 s cap does not apply
