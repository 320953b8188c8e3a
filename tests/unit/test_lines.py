"""cut_lines: recognized words -> timed lines (localize/stages/script/asr/lines.py)."""

from __future__ import annotations

import pytest

from localize.core.artifacts import Word
from localize.stages.script.asr import RawWord
from localize.stages.script.asr.lines import LineRules, cut_lines


def w(text: str, start: int, end: int, p: float = 0.9) -> RawWord:
    return RawWord(start_ms=start, end_ms=end, text=text, probability=p)


def test_three_sentences_in_one_segment_become_three_lines_timed_from_their_words():
    segment = (
        w(" I", 0, 100), w(" know.", 150, 400),
        w(" Go", 450, 600), w(" now!", 650, 900),
        w(" Why?", 950, 1200),
    )
    lines = cut_lines([segment], LineRules())
    assert [ln.text for ln in lines] == ["I know.", "Go now!", "Why?"]
    assert [(ln.start_ms, ln.end_ms) for ln in lines] == [(0, 400), (450, 900), (950, 1200)]
    assert [ln.id for ln in lines] == ["L001", "L002", "L003"]
    assert lines[0].words == (Word(start_ms=0, end_ms=100, text="I", probability=0.9),
                              Word(start_ms=150, end_ms=400, text="know.", probability=0.9))
    assert all(ln.origin == "asr" and ln.speaker == "SPEAKER_00" for ln in lines)


def test_sentence_end_inside_closing_quote_or_cjk_marks_ends_the_line():
    segment = (w(' "Run!"', 0, 300), w(" Okay", 320, 500), w("好。", 520, 700), w(" then", 720, 900))
    lines = cut_lines([segment], LineRules())
    assert [ln.text for ln in lines] == ['"Run!"', "Okay好。", "then"]


@pytest.mark.parametrize(("gap", "expected"), [(349, ["one two"]), (350, ["one", "two"]), (800, ["one", "two"])])
def test_splits_at_a_pause_of_pause_ms_or_more(gap, expected):
    segment = (w(" one", 0, 200), w(" two", 200 + gap, 400 + gap))
    lines = cut_lines([segment], LineRules(pause_ms=350))
    assert [ln.text for ln in lines] == expected
    if len(lines) == 2:
        assert (lines[1].start_ms, lines[1].end_ms) == (200 + gap, 400 + gap)


def test_max_ms_starts_a_new_line_before_the_word_that_would_pass_it():
    # words of 300 ms with 10 ms gaps: 0-300, 310-610, 620-920, 930-1230, ...
    segment = tuple(w(f" w{i}", i * 310, i * 310 + 300) for i in range(6))
    lines = cut_lines([segment], LineRules(max_ms=1000))
    assert [ln.text for ln in lines] == ["w0 w1 w2", "w3 w4 w5"]
    assert all(ln.end_ms - ln.start_ms <= 1000 for ln in lines)
    assert lines[1].start_ms == 930


def test_max_chars_starts_a_new_line_but_never_splits_a_word():
    segment = (w(" abcd", 0, 100), w(" efgh", 110, 200), w(" ijkl", 210, 300))
    lines = cut_lines([segment], LineRules(max_chars=10))
    assert [ln.text for ln in lines] == ["abcd efgh", "ijkl"]
    # a single word longer than max_chars stays whole, on its own line
    long = (w(" hi", 0, 100), w(" supercalifragilistic", 110, 900), w(" yes", 910, 1000))
    lines = cut_lines([long], LineRules(max_chars=5))
    assert [ln.text for ln in lines] == ["hi", "supercalifragilistic", "yes"]
    assert [len(ln.words) for ln in lines] == [1, 1, 1]


def test_chinese_words_are_joined_without_spaces():
    segment = (w("我", 0, 100), w("们", 100, 200), w("走", 200, 300), w("吧。", 300, 450), w("好", 500, 600))
    lines = cut_lines([segment], LineRules.for_language("zh"))
    assert [ln.text for ln in lines] == ["我们走吧。", "好"]
    assert [wd.text for wd in lines[0].words] == ["我", "们", "走", "吧。"]


def test_language_rules():
    assert LineRules.for_language("zh").max_chars == 32
    assert LineRules.for_language("ja").max_chars == 32
    assert LineRules.for_language("en") == LineRules()
    assert LineRules().max_chars == 84


def test_ids_run_on_across_segments_and_a_segment_boundary_ends_a_line():
    segs = [(w(" a", 0, 100), w(" b", 110, 200)), (w(" c", 210, 300),), (w(" d", 310, 400), w(" e.", 410, 500))]
    lines = cut_lines(segs, LineRules(), speaker="SPEAKER_03")
    assert [ln.id for ln in lines] == ["L001", "L002", "L003"]
    assert [ln.text for ln in lines] == ["a b", "c", "d e."]
    assert {ln.speaker for ln in lines} == {"SPEAKER_03"}


def test_ids_are_zero_padded_to_three_digits():
    segs = [(w(f" s{i}.", i * 100, i * 100 + 50),) for i in range(12)]
    lines = cut_lines(segs, LineRules())
    assert lines[0].id == "L001" and lines[9].id == "L010" and lines[11].id == "L012"


def test_empty_and_whitespace_words_are_skipped():
    segment = (w(" hello", 0, 200), w(" ", 200, 900), w("", 900, 950), w("\t", 950, 990), w(" world", 300, 500))
    lines = cut_lines([segment], LineRules())
    assert [ln.text for ln in lines] == ["hello world"]
    assert [wd.text for wd in lines[0].words] == ["hello", "world"]
    assert cut_lines([(w(" ", 0, 100), w("", 100, 200))], LineRules()) == ()
    assert cut_lines([], LineRules()) == ()


def test_confidence_is_the_mean_word_probability_and_bad_timings_are_clamped():
    segment = (w(" a", 100, 50, p=0.123456), w(" b", 60, 60, p=0.5))
    (line,) = cut_lines([segment], LineRules())
    assert line.confidence == round((0.123456 + 0.5) / 2, 4)
    assert line.words[0] == Word(start_ms=100, end_ms=100, text="a", probability=0.1235)
    assert line.end_ms >= line.start_ms + 1
