"""Burned-in subtitle OCR: joining a frame's boxes and merging per-frame readings into cues (localize/stages/script/ocr/merge.py)."""

from __future__ import annotations

import dataclasses

import pytest

from localize.core.artifacts import OcrCue
from localize.stages.script.ocr.merge import (
    FrameReading,
    MergeOptions,
    TextBox,
    edit_distance,
    glue,
    join_boxes,
    merge_readings,
    normalise,
    off_centre,
    split_scripts,
    static_boxes,
    text_distance,
    text_key,
)

STEP = 250


def box(x: int, y: int, text: str, *, w: int = 100, h: int = 30, conf: float = 0.99) -> TextBox:
    return TextBox(x=x, y=y, width=w, height=h, text=text, confidence=conf)


def readings(*texts: str | tuple[str, float], box_at: int = 100) -> list[FrameReading]:
    """One reading per sample, STEP apart; each picture began half a step before its sample."""
    out = []
    for i, item in enumerate(texts):
        text, conf = item if isinstance(item, tuple) else (item, 0.98)
        out.append(
            FrameReading(
                t_ms=i * STEP, since_ms=max(0, i * STEP - STEP // 2), text=text,
                box=(box_at + i, 600, 300, 40) if text else None, confidence=conf if text else 0.0,
            )
        )
    return out


# --- text helpers ------------------------------------------------------------------------------


def test_normalise_strips_and_collapses_space_but_keeps_characters():
    assert normalise("  你好，  世界 ") == "你好， 世界"
    assert normalise("\t") == ""
    assert normalise("這是繁體") == "這是繁體"  # no script conversion: kept as read


def test_text_key_ignores_punctuation_space_and_case():
    assert text_key("你好，世界！") == "你好世界"
    assert text_key(" Hello, World? ") == "helloworld"
    assert text_key("……！？") == ""


def test_edit_and_text_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert text_distance("你好，世界", "你好 世界") == 0.0
    assert text_distance("他能徒手抓住子弹", "他能徒手抓住子弹") == 0.0
    assert text_distance("宇宙守护神保护我们", "宇宙守护神保护我门") == pytest.approx(1 / 9)
    assert text_distance("走", "不必了") == 1.0
    assert text_distance("", "") == 0.0



def _reference_distance(a: str, b: str) -> int:
    """The Wagner-Fischer table that merge.py computed by hand before it used rapidfuzz."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_distances_match_the_hand_written_table_exactly():
    import random

    rng = random.Random(16)
    alphabet = "你好世界我们门走吧abcAB，。 1"
    for _ in range(500):
        a = "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        b = "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        assert edit_distance(a, b) == _reference_distance(a, b), (a, b)
        ka, kb = text_key(a), text_key(b)
        want = _reference_distance(ka, kb) / max(len(ka), len(kb)) if ka or kb else 0.0
        assert text_distance(a, b) == want, (a, b)

# --- one frame's boxes -------------------------------------------------------------------------


def test_join_boxes_reads_a_row_left_to_right_and_keeps_wide_gaps_as_one_space():
    text, union, conf = join_boxes([box(400, 10, "保护我们", conf=0.9), box(100, 12, "宇宙守护神", w=120, conf=1.0)])
    assert text == "宇宙守护神 保护我们"  # gap 180 px > 0.6 x 30 px line
    assert union == (100, 10, 400, 32)
    assert conf == pytest.approx((5 * 1.0 + 4 * 0.9) / 9)
    tight, _, _ = join_boxes([box(210, 10, "世界"), box(100, 10, "你好", w=105)])
    assert tight == "你好世界"  # 5 px gap: same phrase


def test_join_boxes_reads_rows_top_to_bottom():
    text, union, _ = join_boxes([box(100, 60, "你听我解释"), box(120, 10, "等一下，")])
    assert text == "等一下，你听我解释"  # a row break inside Chinese is no space
    assert union == (100, 10, 120, 80)


def test_join_boxes_drops_punctuation_only_boxes_and_handles_nothing():
    assert join_boxes([]) == ("", None, 0.0)
    assert join_boxes([box(0, 0, "……")]) == ("", None, 0.0)
    text, _, _ = join_boxes([box(0, 0, " 走！ "), box(500, 0, "。")])
    assert text == "走！"


# --- merging readings into cues ----------------------------------------------------------------


def test_identical_readings_make_one_cue_with_union_box_and_mean_confidence():
    rs = readings("", "宇宙守护神", ("宇宙守护神", 0.90), "宇宙守护神", "")
    (cue,) = merge_readings(rs, end_ms=2000)
    assert isinstance(cue, OcrCue)
    assert (cue.start_ms, cue.end_ms) == (125, 875)  # since of the first; since of the reading after the last
    assert cue.text == "宇宙守护神"
    assert cue.box == (101, 600, 302, 40)
    assert cue.confidence == pytest.approx((0.98 + 0.90 + 0.98) / 3, abs=1e-4)


def test_near_identical_readings_merge_and_the_most_confident_variant_wins():
    rs = readings("他能徒手抓住子弹", ("他能徒手抓住子禅", 0.7), "他能徒手抓住子弹，", "他能徒手抓住子弹")
    (cue,) = merge_readings(rs, end_ms=1000)
    assert cue.text == "他能徒手抓住子弹"
    assert (cue.start_ms, cue.end_ms) == (0, 1000)  # runs to the end of the video


def test_different_texts_make_back_to_back_cues():
    rs = readings("他能徒手抓住子弹", "他能徒手抓住子弹", "轻轻一跳就能飞跃高楼", "轻轻一跳就能飞跃高楼", "")
    first, second = merge_readings(rs, end_ms=1250)
    assert (first.text, first.start_ms, first.end_ms) == ("他能徒手抓住子弹", 0, 375)
    assert (second.text, second.start_ms, second.end_ms) == ("轻轻一跳就能飞跃高楼", 375, 875)


def test_a_cue_ends_where_the_next_sample_says_its_picture_ended():
    # A gap shorter than a step fell between two samples: the old subtitle went at 420 ms,
    # the new one came at 480 ms.
    rs = readings("到底发生了什么", "到底发生了什么", "走")
    rs[2] = FrameReading(t_ms=500, since_ms=480, previous_until_ms=420, text="走", box=(0, 0, 10, 10), confidence=0.95)
    first, second = merge_readings(rs, end_ms=750)
    assert (first.start_ms, first.end_ms) == (0, 420)
    assert (second.start_ms, second.end_ms) == (480, 750)


def test_one_frame_low_confidence_flicker_is_dropped_and_a_confident_one_kept():
    assert merge_readings(readings("", ("口口", 0.6), ""), end_ms=750) == ()
    (kept,) = merge_readings(readings("", ("走！", 0.97), ""), end_ms=750)
    assert (kept.text, kept.start_ms, kept.end_ms) == ("走！", 125, 375)


def test_a_flicker_inside_a_cue_is_bridged():
    rs = readings("三年前的那个晚上", "三年前的那个晚上", ("二牛酌郝个", 0.5), "三年前的那个晚上", "三年前的那个晚上")
    (cue,) = merge_readings(rs, end_ms=1250)
    assert (cue.text, cue.start_ms, cue.end_ms) == ("三年前的那个晚上", 0, 1250)
    assert cue.confidence == pytest.approx(0.98)


def test_one_missed_sample_is_bridged_but_two_are_a_real_gap():
    (one,) = merge_readings(readings("不必了", "", "不必了"), end_ms=750)
    assert (one.start_ms, one.end_ms) == (0, 750)
    two = merge_readings(readings("不必了", "", "", "不必了"), end_ms=1000)
    assert [(c.start_ms, c.end_ms) for c in two] == [(0, 125), (625, 1000)]
    strict = merge_readings(readings("不必了", "", "不必了"), end_ms=750, options=MergeOptions(max_gap=0))
    assert len(strict) == 2


def test_punctuation_only_and_empty_readings_are_no_text():
    assert merge_readings(readings("", "……", "！", ""), end_ms=1000) == ()
    assert merge_readings([], end_ms=1000) == ()


def test_cue_never_ends_before_it_starts():
    rs = [
        FrameReading(t_ms=0, since_ms=0, text="你好", box=(0, 0, 1, 1), confidence=0.99),
        FrameReading(t_ms=250, since_ms=0, text="", confidence=0.0),
    ]
    (cue,) = merge_readings(rs, end_ms=500)
    assert cue.end_ms > cue.start_ms


# --- scripts, corners and text that stays put ----------------------------------------------------


def test_wrapped_rows_join_without_space_in_chinese_and_with_one_in_english():
    zh, _, _ = join_boxes([box(100, 10, "学的是"), box(100, 50, "金融学专业嘛")])
    assert zh == "学的是金融学专业嘛"
    en, _, _ = join_boxes([box(100, 10, "Sometimes you think"), box(100, 50, "that you're handing out")])
    assert en == "Sometimes you think that you're handing out"
    assert glue("他说：", "OK") == "他说：OK" and glue("iPhone", "很好") == "iPhone很好" and glue("", "a") == "a"


def test_a_bilingual_frame_splits_into_its_chinese_and_its_english_rows():
    rows = split_scripts([box(100, 10, "有时候你会觉得"), box(90, 50, "Sometimes you think", w=200),
                          box(95, 90, "that it's a worksheet", w=200)])
    assert [b.text for b in rows["cjk"]] == ["有时候你会觉得"]
    assert join_boxes(rows["latin"])[0] == "Sometimes you think that it's a worksheet"


def test_a_logo_in_a_corner_is_no_part_of_the_centred_subtitle_row():
    subtitle = box(400, 100, "你听我解释", w=200)
    logo = box(880, 105, "RECORDED AT TED", w=90, h=20)
    assert off_centre([subtitle, logo], width=1000) == [logo]
    split = [box(150, 100, "一句很长的字幕", w=340), box(510, 100, "被分成了两块", w=340)]  # one centred row
    assert off_centre(split, width=1000) == []


def test_text_that_stays_put_while_the_subtitles_change_is_static():
    mark = box(700, 10, "微短剧", w=80, h=20)
    lines = ["你竟然敢背叛我", "我绝不会原谅你", "等一下", "不必了", "走"]
    samples = [[box(300, 50, t), TextBox(x=mark.x + i % 2, y=mark.y, width=80, height=20, text=mark.text,
                                         confidence=0.9)] for i, t in enumerate(lines)]
    assert [b.text for b in static_boxes(samples)] == ["微短剧"]
    # one subtitle held across every sample, nothing else changing: not static
    assert static_boxes([[box(300, 50, "三年前")]] * 6) == []



def test_static_text_joined_to_a_subtitle_row_is_cut_out_of_it():
    from localize.stages.script.ocr.merge import cut_static

    # a real reading of the bilingual episode B: the watermark overlaps the end of the English row
    mark = TextBox(x=873, y=134, width=169, height=26, text="微短剧DRAMA+", confidence=0.99)
    joined = TextBox(x=171, y=129, width=874, height=50, confidence=0.98,
                     text="I mean, this was the first to do actuarial science in Chir微短剧 DRAMA+ ")
    cut = cut_static(joined, mark)
    assert cut is not None and cut.text == "I mean, this was the first to do actuarial science in Chir"
    assert (cut.x, cut.x + cut.width) == (171, 873)
    assert cut_static(TextBox(x=860, y=128, width=183, height=35, text="微短剧DRAMA+", confidence=0.99), mark) is None
    elsewhere = dataclasses.replace(joined, y=300)
    assert cut_static(elsewhere, mark) is elsewhere  # no overlap: kept whole
    other = dataclasses.replace(joined, text="我们走吧")
    assert cut_static(other, mark) is other  # overlapping, but no static text in it
