"""Burned-in subtitle OCR: finding the band and telling band pictures apart (localize/stages/script/ocr/band.py, scan.py)."""

from __future__ import annotations

import numpy as np
import pytest

from localize.stages.script.ocr.band import BandRules, contrast_mask, find_band, mask_distance
from localize.stages.script.ocr.merge import TextBox
from localize.stages.script.ocr.scan import _change_times

W, H = 960, 288


def line(
    text: str, *, y: int = 190, width: int = 400, height: int = 34, conf: float = 0.99, x: int | None = None
) -> TextBox:
    left = (W - width) // 2 if x is None else x
    return TextBox(x=left, y=y, width=width, height=height, text=text, confidence=conf)


SUBS = ["宇宙守护神保护我们", "他能徒手抓住子弹", "轻轻一跳就能飞跃高楼", "", "你竟然敢背叛我", ""]


def test_band_is_where_changing_centred_text_recurs():
    probes = [[line(t)] if t else [] for t in SUBS]
    band = find_band(probes, width=W, height=H, rules=BandRules(grow_below=1.3))
    assert band is not None
    assert band.hits == 4
    assert band.line_height == 34
    assert band.bottom == 190 + 34 + 12 + 44  # padded by 0.35 line, and room for one more line below (1.3 lines)
    assert band.top == 190 - 12 - 44  # and room for a second line above (1.3 lines)


def test_two_line_subtitles_make_one_band():
    probes = [[line("等一下，", y=140), line("你听我解释", y=190)], [line("不必了")], [line("三年前的那个晚上")], []]
    band = find_band(probes, width=W, height=H)
    assert band is not None and band.top < 140 < 190 + 34 < band.bottom
    assert band.top == 140 - 12  # two rows seen: no extra room


def test_static_watermark_is_not_a_band_but_subtitles_beside_it_are():
    watermark = line("本故事纯属虚构", y=250, width=200, height=20)
    probes = [[watermark, line(t)] if t else [watermark] for t in SUBS]
    band = find_band(probes, width=W, height=H, rules=BandRules(grow_below=1.3))
    assert band is not None and band.bottom == 250  # room below stops where the watermark begins
    assert find_band([[watermark]] * 6, width=W, height=H) is None


def test_no_text_one_hit_off_centre_or_unsure_text_is_no_band():
    assert find_band([], width=W, height=H) is None
    assert find_band([[], [], []], width=W, height=H) is None
    assert find_band([[line("只出现一次")], [], []], width=W, height=H) is None
    corner = [[line(t, x=0, width=120)] for t in ("台标", "频道", "直播")]
    assert find_band(corner, width=W, height=H) is None
    unsure = [[line(t, conf=0.3)] for t in ("口口", "曰日", "二三")]
    assert find_band(unsure, width=W, height=H) is None
    assert find_band(unsure, width=W, height=H, rules=BandRules(min_confidence=0.2)) is not None


def test_the_most_seen_band_wins_and_the_lower_one_on_a_tie():
    probes = [[line("标题一", y=20), line("字幕一")], [line("标题二", y=20), line("字幕二")], [line("字幕三")]]
    band = find_band(probes, width=W, height=H)
    assert band is not None and band.top > 100
    tie = [[line("标题一", y=20), line("字幕一")], [line("标题二", y=20), line("字幕二")]]
    band = find_band(tie, width=W, height=H)
    assert band is not None and band.top > 100


def _subtitle(text_width: int, *, shift: int = 0, seed: int = 0) -> np.ndarray:
    """A grey band: soft noisy background with a white bar outlined in black (a stand-in for letters)."""
    rng = np.random.default_rng(seed)
    img = (100 + rng.normal(0, 8, (64, 320))).clip(0, 255).astype(np.uint8)
    if text_width:
        left = 160 - text_width // 2 + shift
        img[20:44, left - 2 : left + text_width + 2] = 0
        img[22:42, left : left + text_width : 6] = 255  # vertical strokes
    return img


def test_contrast_mask_keeps_outlined_strokes_not_background():
    assert not contrast_mask(_subtitle(0)).any()
    assert contrast_mask(_subtitle(120)).sum() > 500


def test_mask_distance_tells_same_from_changed():
    a, a_again, b = (contrast_mask(_subtitle(w, shift=s, seed=n)) for w, s, n in ((120, 0, 1), (120, 0, 2), (90, 0, 3)))
    blank = contrast_mask(_subtitle(0))
    assert mask_distance(a, a_again) == 0.0
    assert mask_distance(a, b) > 0.5
    assert mask_distance(a, blank) == pytest.approx(1.0)
    assert mask_distance(blank, blank) == 0.0


def test_change_times_place_one_change_between_samples():
    a, b = contrast_mask(_subtitle(120)), contrast_mask(_subtitle(60, shift=20))
    # Samples at 1000 and 1250 ms, frames decoded every 50 ms; b shows from the 1150 ms frame on.
    until, since = _change_times(1000, 50, a, [a, a, b, b], b)
    assert until == since == 1125
    # No refinement (nothing decoded between): the change is put half a step before the sample.
    assert _change_times(1000, 250, a, [], b) == (1125, 1125)


def test_change_times_see_a_short_gap_between_samples():
    a, b, blank = contrast_mask(_subtitle(120)), contrast_mask(_subtitle(60, shift=20)), contrast_mask(_subtitle(0))
    until, since = _change_times(1000, 50, a, [a, blank, blank, b], b)
    assert (until, since) == (1075, 1175)


def test_a_watermark_misread_now_and_then_is_still_static():
    marks = ["本故事纯属虚构", "本故事纯属虚构", "本故事纯屬虚构", "本故事纯属虚构", "本故亊纯属虚构", "本故事纯属虚构"]
    probes = [[line(m, y=250, width=200, height=20)] for m in marks]
    assert find_band(probes, width=W, height=H) is None


def test_subtitles_that_come_back_are_not_an_overlay():
    # The same line in half the probes (a looped clip, a catchphrase) still changes in the other half.
    probes = [[line("宇宙守护神保护我们" if i % 2 else "轻轻一跳就能飞跃高楼")] for i in range(12)]
    assert find_band(probes, width=W, height=H) is not None


def test_band_rows_map_to_even_source_rows_inside_the_search_region():
    from localize.stages.script.ocr.band import Band
    from localize.stages.script.ocr.frames import Strip
    from localize.stages.script.ocr.scan import _band_strip

    region = Strip(top=1152, height=768, width=1080, scale=960 / 1080)  # scaled to 960x682
    strip = _band_strip(region, Band(top=101, bottom=183, line_height=40, hits=5))
    assert strip.top % 2 == 0 and strip.height % 2 == 0
    assert strip.top <= 1152 + 101 * 768 / 682 and 1152 + 183 * 768 / 682 <= strip.top + strip.height
    edge = _band_strip(Strip(top=432, height=288, width=960, scale=1.0), Band(top=201, bottom=288, line_height=40, hits=3))
    assert edge.top + edge.height <= 720
