"""Pure parts of the speaker stage: a voice change inside a line (change_point, split_line) and the pitch
class. Synthetic embeddings; no model is run."""

from __future__ import annotations

import numpy as np
import pytest

from localize.core.artifacts import Line, Word
from localize.stages.script.speakers import change_point, split_line
from localize.stages.script.speakers.pitch import HIGH_FROM_HZ, LOW_BELOW_HZ, pitch_class


def voice(seed: int, dim: int = 256) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def windows(start: int, end: int, *, size: int = 1600, hop: int = 400) -> list[tuple[int, int]]:
    return [(a, a + size) for a in range(start, end - size + 1, hop)]


# -- change_point ---------------------------------------------------------------------------------------------


def test_change_point_finds_where_the_voice_changes() -> None:
    a, b = voice(1), voice(2)
    ws = windows(0, 6000)
    # Windows wholly before 3000 ms are voice a, wholly after it voice b, those across it a blend.
    vectors = np.stack([a if e <= 3000 else b if s >= 3000 else (a + b) / np.sqrt(2) for s, e in ws])
    t, distance = change_point(ws, vectors)
    assert abs(t - 3000) <= 400
    assert distance == pytest.approx(1 - float(a @ b), abs=1e-6)


def test_one_voice_has_no_change() -> None:
    a = voice(3)
    ws = windows(0, 6000)
    rng = np.random.default_rng(0)
    vectors = np.stack([a + 0.05 * rng.standard_normal(256) / 16 for _ in ws])
    _, distance = change_point(ws, vectors)
    assert distance < 0.01


def test_change_point_needs_two_disjoint_windows_with_sound() -> None:
    a, b = voice(1), voice(2)
    assert change_point([(0, 1600)], a[None, :]) == (0, 0.0)
    # Overlapping windows only: no point has a window wholly on each side.
    assert change_point([(0, 1600), (400, 2000)], np.stack([a, b])) == (0, 0.0)
    # Silent windows (zero vectors) do not count.
    ws = [(0, 1600), (2000, 3600)]
    assert change_point(ws, np.stack([a, np.zeros(256)])) == (0, 0.0)


# -- split_line -----------------------------------------------------------------------------------------------


def test_split_line_gives_each_part_its_words() -> None:
    words = (Word(start_ms=0, end_ms=400, text=" Ask"), Word(start_ms=450, end_ms=800, text=" not"),
             Word(start_ms=1500, end_ms=1900, text=" what"), Word(start_ms=1950, end_ms=2400, text=" your"))
    line = Line(id="L7", start_ms=0, end_ms=2500, text="Ask not what your", speaker="SPEAKER_01", words=words)
    first, second = split_line(line, 1200)
    assert (first.id, first.start_ms, first.end_ms, first.text) == ("L7", 0, 1200, "Ask not")
    assert (second.id, second.start_ms, second.end_ms, second.text) == ("L7-2", 1200, 2500, "what your")
    assert first.words == words[:2] and second.words == words[2:]
    assert first.speaker == second.speaker == "SPEAKER_01"  # label_speakers sets each part's speaker


def test_split_line_joins_chinese_words_without_spaces() -> None:
    words = (Word(start_ms=0, end_ms=500, text="你好"), Word(start_ms=600, end_ms=900, text="吗"),
             Word(start_ms=1500, end_ms=2000, text="我很好"))
    line = Line(id="3", start_ms=0, end_ms=2000, text="你好吗我很好", words=words)
    first, second = split_line(line, 1200)
    assert (first.text, second.text) == ("你好吗", "我很好")


def test_split_line_without_words_cuts_the_text_in_proportion() -> None:
    spaced = Line(id="a", start_ms=1000, end_ms=3000, text="one two three four five six")
    first, second = split_line(spaced, 2000)  # half way: the space nearest the middle character
    assert (first.text, second.text) == ("one two three", "four five six")
    chinese = Line(id="b", start_ms=0, end_ms=1000, text="一二三四五六七八九十")
    first, second = split_line(chinese, 300)
    assert (first.text, second.text) == ("一二三", "四五六七八九十")
    assert first.words == second.words == ()


def test_split_line_keeps_both_parts_non_empty_in_time() -> None:
    line = Line(id="x", start_ms=100, end_ms=900, text="a b")
    first, second = split_line(line, 50)  # before the line: clamped inside it
    assert (first.start_ms, first.end_ms, second.start_ms, second.end_ms) == (100, 101, 101, 900)
    first, second = split_line(line, 5000)
    assert (first.end_ms, second.start_ms, second.end_ms) == (899, 899, 900)


# -- pitch class ----------------------------------------------------------------------------------------------


def test_pitch_class_bands() -> None:
    assert pitch_class(0.0) == ""
    assert pitch_class(-1.0) == ""
    assert pitch_class(107.0) == "low"  # the outdoor man
    assert pitch_class(LOW_BELOW_HZ - 0.1) == "low"
    assert pitch_class(LOW_BELOW_HZ) == "mid"
    assert pitch_class(HIGH_FROM_HZ - 0.1) == "mid"
    assert pitch_class(HIGH_FROM_HZ) == "high"
    assert pitch_class(250.0) == "high"
