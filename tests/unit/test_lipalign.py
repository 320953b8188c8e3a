"""Lip alignment math on synthetic mouth curves and clips: events, speech bounds and the slot rules."""

from __future__ import annotations

import numpy as np

from localize.stages.picture.lipalign import (
    LipItem,
    MouthEvents,
    mouth_events,
    offset_stats,
    plan_alignment,
    speech_bounds,
)
from localize.stages.picture.mouth import MouthCurve


def _curve(opens: list[tuple[int, int]], duration: int = 6000, step: int = 33) -> MouthCurve:
    times = tuple(range(0, duration, step))
    return MouthCurve(track="F01", times_ms=times,
                      values=tuple(0.9 if any(a <= t < b for a, b in opens) else 0.05 for t in times))


def test_mouth_events_find_the_opening_after_the_closure_and_the_closing() -> None:
    ev = mouth_events(_curve([(1200, 3000)]), 1000, 3100)
    assert ev is not None and abs(ev.open_ms - 1200) <= 33 and ev.close_ms is not None
    assert abs(ev.close_ms - 3000) <= 33


def test_mouth_events_none_without_a_closed_mouth_near_the_start() -> None:
    assert mouth_events(_curve([(0, 6000)]), 1000, 3000) is None
    assert mouth_events(_curve([]), 1000, 3000) is None  # never opens


def test_mouth_events_none_without_a_clear_opening_near_the_start() -> None:
    # closed from 1100 to 1700, then open: the mouth stays shut through the slot's start (a pause, or a
    # line linked to the wrong face); opening 700 ms late is no evidence, the line is left alone
    assert mouth_events(_curve([(0, 1100), (1700, 3000)]), 1000, 3000) is None
    # closed at the start but the opening is 500 ms after a slow rise: also too far from the slot's start
    assert mouth_events(_curve([(0, 800), (1500, 3000)]), 1000, 3000) is None
    # the same curve with a slot starting near the opening: a clear rise, found
    ev = mouth_events(_curve([(0, 800), (1500, 3000)]), 1400, 3000)
    assert ev is not None and abs(ev.open_ms - 1500) <= 33
    # closed at the start, then a slow drift from 0 to 1 over 2 s: no clear opening
    times = tuple(range(0, 6000, 33))
    ramp = MouthCurve(track="F01", times_ms=times, values=tuple(min(max((t - 1000) / 2000, 0.0), 1.0) for t in times))
    assert mouth_events(ramp, 1000, 3000) is None


def test_speech_bounds_from_energy() -> None:
    rate = 16000
    clip = np.zeros(rate, dtype=np.float32)
    clip[int(0.2 * rate):int(0.7 * rate)] = 0.5 * np.sin(np.arange(int(0.5 * rate)) * 0.3)
    start, end = speech_bounds(clip, rate)
    assert 190 <= start <= 210 and 690 <= end <= 710


def _item(**kw) -> LipItem:
    base = dict(slot_start_ms=1000, slot_end_ms=2000, dub_start_ms=1000, length_ms=900, onset_ms=20,
                speech_end_ms=880, speed=1.0, mouth=None)
    return LipItem(**{**base, **kw})


def test_a_clip_moves_its_onset_onto_the_mouth_opening() -> None:
    [p] = plan_alignment([_item(mouth=MouthEvents(open_ms=1150, close_ms=None))], max_speed=1.25, duration_ms=5000)
    assert p.start_ms + 20 == 1150 and p.speed == 1.0 and p.length_ms == 900


def test_no_mouth_no_change() -> None:
    [p] = plan_alignment([_item()], max_speed=1.25, duration_ms=5000)
    assert (p.start_ms, p.speed, p.length_ms) == (1000, 1.0, 900)


def test_never_earlier_than_the_lead_limit_or_into_the_previous_dub() -> None:
    early = MouthEvents(open_ms=500, close_ms=None)
    [p] = plan_alignment([_item(mouth=early)], max_speed=1.25, duration_ms=5000, max_lead_ms=250)
    assert p.start_ms == 750
    prev = _item(slot_start_ms=0, slot_end_ms=900, dub_start_ms=0, length_ms=850)
    plan = plan_alignment([prev, _item(mouth=early)], max_speed=1.25, duration_ms=5000, guard_ms=80)
    assert plan[1].start_ms == 850 + 80


def test_never_late_enough_to_run_into_the_next_dub() -> None:
    late = MouthEvents(open_ms=1600, close_ms=None)
    nxt = _item(slot_start_ms=2100, slot_end_ms=3000, dub_start_ms=2100)
    plan = plan_alignment([_item(mouth=late), nxt], max_speed=1.25, duration_ms=5000, guard_ms=80)
    assert plan[0].start_ms + plan[0].length_ms <= 2100 - 80
    assert plan[0].start_ms == 2100 - 80 - 900


def test_the_end_is_retimed_toward_the_closing_within_the_cap() -> None:
    # speech 860 ms at 1.0; the mouth is open 1000-1700: asks 1.23x, within the 1.25 cap
    [p] = plan_alignment([_item(mouth=MouthEvents(open_ms=1000, close_ms=1700))], max_speed=1.25, duration_ms=5000)
    assert 1.2 <= p.speed <= 1.25 and p.length_ms < 900
    # asks 2x: capped at 1.25
    [p] = plan_alignment([_item(mouth=MouthEvents(open_ms=1000, close_ms=1450))], max_speed=1.25, duration_ms=5000)
    assert p.speed == 1.25
    # a stretched clip with a longer mouth span slows back toward 1.0, never below
    stretched = _item(speed=1.2, mouth=MouthEvents(open_ms=1000, close_ms=2500))
    [p] = plan_alignment([stretched], max_speed=1.25, duration_ms=5000)
    assert p.speed == 1.0 and p.length_ms == 1080


def test_offset_stats() -> None:
    assert offset_stats([100, -200, 0, 50]) == (87.5, 170.0)
    assert offset_stats([]) == (0.0, 0.0)
