"""Timed-text layout: rows, cues and reading speed (localize.stages.render.layout), the default subtitle mode
for sources with burned-in subtitles (localize.stages.render.mode), and a market's layout on a 9:16 picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from localize.core.artifacts import Word
from localize.core.markets import Market, builtin_markets
from localize.stages.render import fonts
from localize.stages.render.fonts import text_width
from localize.stages.render.market import render_options
from localize.stages.render.mode import subtitle_mode
from localize.stages.render.presets import SHORT_VIDEO, subtitle_outputs
from localize.stages.render.styles import layout_rules, market_subtitles
from localize.stages.render.layout import LayoutRules, break_rows, layout_cues, split_line, time_pieces, visible_len
from localize.stages.render.subtitles import Cue

# The longest line of the developer episode's English translation (124 characters).
LONG = ("After coming back to China in '92 he set up an actuarial school with Fudan, "
        "and now works with lots of colleges and schools,")
ZH = "那这这个可能说当然如果说有有机会能亲身的去考察去了解一下，那当然是有更好的帮助。"
CLOSING = set("，。、！？；：）」』》")


def _rows_ok(pieces, rules: LayoutRules) -> None:
    for rows in pieces:
        assert 1 <= len(rows) <= rules.max_rows, rows
        for row in rows:
            assert row and row == row.strip()
            assert visible_len(row) <= rules.max_chars, row
            if rules.row_width:
                assert text_width(row) <= rules.row_width, row


@pytest.mark.parametrize("max_chars", [42, 30, 20, 12])
def test_a_long_latin_line_splits_into_cues_of_two_rows_within_the_limit(max_chars):
    rules = LayoutRules(max_chars=max_chars)
    pieces = split_line(LONG, rules)
    _rows_ok(pieces, rules)
    assert " ".join(" ".join(rows) for rows in pieces) == LONG  # every word, in order, broken at spaces only
    assert len(pieces) == -(-len(LONG) // (2 * max_chars)) or len(pieces) <= len(LONG) // max_chars


def test_rows_are_balanced_and_one_row_when_it_fits():
    assert break_rows("Hello there.", LayoutRules(max_chars=42)) == ("Hello there.",)
    top, bottom = break_rows("Ah, maybe what would suit the American market better.", LayoutRules(max_chars=42))
    assert abs(len(top) - len(bottom)) <= 12
    assert break_rows(LONG, LayoutRules(max_chars=42)) is None  # 124 characters do not fit 2 x 42
    assert break_rows(LONG, LayoutRules(max_chars=42), strict=False) is not None


def test_a_row_width_limit_is_kept_as_well_as_the_characters():
    rules = LayoutRules(max_chars=42, row_width=826 / 77)  # en-US burned on 1080x1920
    pieces = split_line(LONG, rules)
    _rows_ok(pieces, rules)
    assert len(pieces) == 3
    wide = LayoutRules(max_chars=42, row_width=10.0)
    assert all(text_width(r) <= 10.0 for rows in split_line("WWWWW MMMMM WWWWW MMMMM", wide) for r in rows)


def test_chinese_breaks_between_characters_but_never_before_closing_punctuation():
    rules = LayoutRules(max_chars=16)
    pieces = split_line(ZH, rules)
    _rows_ok(pieces, rules)
    assert "".join("".join(rows) for rows in pieces) == ZH
    for rows in pieces:
        assert all(row[0] not in CLOSING for row in rows)
    # rows joined with spaces by an SRT reader are one Chinese line again
    assert break_rows("周一到周五， 每天早晨", LayoutRules(max_chars=16)) == ("周一到周五，每天早晨",)
    assert any("ABC" in row for row in break_rows("我们在一起ABC工作了很久很久", LayoutRules(max_chars=9)))


def test_thai_keeps_each_letter_with_its_marks():
    text = "กกกกกี่กกกกกกกกกี่กกกกก"
    for rows in split_line(text, LayoutRules(max_chars=6)):
        for row in rows:
            assert row[0] not in "\u0e35\u0e48"  # no row starts with a vowel or tone mark
            assert visible_len(row) <= 6


def test_cue_times_are_consecutive_inside_the_line_and_never_under_800_ms():
    pieces = ["a" * 40, "b" * 4, "c" * 40]
    times = time_pieces(pieces, 1000, 6000)
    assert times[0][0] == 1000 and times[-1][1] == 6000
    assert all(a < b for a, b in times) and all(times[i][1] == times[i + 1][0] for i in range(2))
    assert min(b - a for a, b in times) >= 800
    # proportional to characters otherwise
    assert time_pieces(["a" * 30, "b" * 10], 0, 4000) == ((0, 3000), (3000, 4000))
    # a span too short for 800 ms each: shared equally, still inside the line
    assert time_pieces(["a", "b", "c"], 0, 1500) == ((0, 500), (500, 1000), (1000, 1500))


def test_cues_are_timed_by_the_lines_words_when_it_has_them():
    words = (Word(start_ms=0, end_ms=400, text="One"), Word(start_ms=400, end_ms=900, text=" two"),
             Word(start_ms=3000, end_ms=3500, text=" three"), Word(start_ms=3500, end_ms=4000, text=" four"))
    assert time_pieces(["One two", "three four"], 0, 4000, words=words) == ((0, 3000), (3000, 4000))
    # words of another text (a translation) are not used
    other = (Word(start_ms=0, end_ms=4000, text="Uno dos tres cuatro"),)
    assert time_pieces(["One two", "three four"], 0, 4000, words=other) == ((0, 1600), (1600, 4000))


def test_layout_keeps_reading_speed_by_extending_into_the_gap_and_reports_the_rest():
    rules = LayoutRules(max_chars=42, reading_cps=17.0)
    cues = [Cue(start_ms=2000, end_ms=7720, text=LONG, id="1"),  # 124 chars in 5.72 s: 21.7 cps
            Cue(start_ms=9020, end_ms=12370, text="Ah, maybe what would suit the American market better.", id="2"),
            Cue(start_ms=12400, end_ms=13000, text="A line far too long to read in six hundred ms.", id="3"),
            Cue(start_ms=12900, end_ms=15000, text="Overlapping speech.", id="4")]
    laid = layout_cues(cues, rules, end_ms=20000)
    first, second, third, fourth = laid.lines
    assert first.extended_ms == 9020 - rules.gap_ms - 7720 and first.end_ms == 8940  # into the gap, not beyond
    assert first.too_fast and first.reading_cps == round(124 * 1000 / (8940 - 2000), 1)
    assert not second.too_fast and second.extended_ms == 0 and second.pieces == 1
    assert third.trimmed_ms == 100 and third.end_ms == 12900 and third.too_fast  # overlap: cut where 4 starts
    assert fourth.extended_ms == 0
    on_screen = sorted((c.start_ms, c.end_ms) for c in laid.cues)
    assert all(a[1] <= b[0] for a, b in zip(on_screen, on_screen[1:]))  # one cue on screen at a time
    line_one = [c for c in laid.cues if c.id == "1"]
    assert len(line_one) == first.pieces == 2
    assert line_one[0].start_ms == 2000 and line_one[-1].end_ms == 8940
    assert all(c.end_ms - c.start_ms >= 800 for c in line_one)
    for c in laid.cues:
        _rows_ok([tuple(c.text.split("\n"))], rules)


def test_the_last_line_is_extended_only_up_to_the_videos_end():
    cue = Cue(start_ms=0, end_ms=1000, text="x" * 40)
    assert layout_cues([cue], LayoutRules(), end_ms=0).lines[0].end_ms == 1000
    assert layout_cues([cue], LayoutRules(), end_ms=1500).lines[0].end_ms == 1420
    assert layout_cues([cue], LayoutRules(), end_ms=9000).lines[0].end_ms == 2353  # 40 / 17 cps


def test_en_us_on_a_vertical_picture_gets_text_sized_to_the_frame_in_at_most_two_rows(monkeypatch):
    monkeypatch.setattr(fonts, "font_files", lambda family: (Path(f"/fonts/{family}.ttf"),))
    market = builtin_markets()["en-US"]
    subs, _, layout = market_subtitles([Cue(start_ms=2000, end_ms=7720, text=LONG, id="1")], market, (1080, 1920),
                                       burned=True, end_ms=46000)
    style = subs.styles["Default"]
    assert 60 <= style.fontsize <= 80  # 4 % of 1920, not the 93 px that made 8 rows
    assert 0.15 * 1920 <= style.marginv <= 0.25 * 1920  # low, above the apps' bottom UI
    rules = layout.rules
    assert 0 < rules.row_width * style.fontsize <= 1080 - style.marginl - style.marginr
    assert len(subs.events) == layout.lines[0].pieces >= 3
    for event in subs.events:
        rows = event.text.split("\\N")
        assert len(rows) <= 2 and all(len(r) <= market.subtitles.max_chars_per_line for r in rows)
        assert all(text_width(r) * style.fontsize <= 1080 - style.marginl - style.marginr for r in rows)
    # a soft track alone keeps the market's 42 characters per row
    soft = layout_rules(market, (1080, 1920), SHORT_VIDEO, burned=False)
    assert (soft.max_chars, soft.row_width, soft.reading_cps) == (42, 0.0, 17.0)


def test_builtin_markets_row_limits():
    markets = builtin_markets()
    assert markets["en-US"].subtitles.max_chars_per_line == 42
    assert markets["zh-CN"].subtitles.max_chars_per_line == 16
    for m in markets.values():
        assert 1 <= m.subtitles.max_chars_per_line <= 42


@pytest.mark.parametrize(("asked", "burned", "source", "market", "mode"), [
    ("auto", ["现在跟很多学院学校也有在合作"], "zh", "en", "both"),  # an American viewer must not see Chinese
    ("auto", ["现在跟很多学院学校也有在合作"], "zh", "th", "both"),
    ("auto", ["现在跟很多学院学校也有在合作"], "zh", "ja", "both"),
    ("auto", ["现在跟很多学院学校也有在合作"], "zh", "zh", "soft"),  # same language: as before
    ("auto", [], "zh", "en", "soft"),  # no burned-in subtitles (or OCR off): as before
    ("auto", ["¿Qué tal?"], "es", "pt", "both"),  # the source's language in the market's script
    ("auto", ["¿Qué tal?"], "es", "es", "soft"),
    ("auto", ["How are you?"], "zh", "en", "soft"),  # English already burned into a Chinese episode
    ("auto", ["How are you?"], "zh", "th", "both"),
    ("soft", ["现在跟很多学院学校也有在合作"], "zh", "en", "soft"),  # the opt-out
    ("burned", [], "zh", "th", "burned"),
])
def test_subtitle_mode(asked, burned, source, market, mode):
    assert subtitle_mode(asked, burned_texts=burned, source_language=source, market_language=market) == mode


def test_auto_renders_as_a_soft_track_until_decided_and_the_decision_is_in_the_render_key(monkeypatch):
    monkeypatch.setattr(fonts, "font_files", lambda family: (Path(f"/fonts/{family}.ttf"),))
    assert subtitle_outputs("auto") == (True, False)
    assert subtitle_outputs("both") == (True, True)
    market = builtin_markets()["en-US"]
    assert market.render.subtitles == "auto"
    both = Market(tag="en-US", name="x", language="en",
                  render=type(market.render)(subtitles="both"))
    cues = [Cue(start_ms=0, end_ms=1000, text="Hi")]
    assert render_options(market, cues, None) != render_options(both, cues, None)
    assert render_options(both, cues, None)["burned"] is True
