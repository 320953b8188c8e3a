"""The dub timing planner: stretch, borrow silence, never overlap (localize.stages.voice.tts.fit.plan_track)."""

from __future__ import annotations

import random

from localize.stages.voice.tts.fit import plan_track

CAP = 1.25


def plan(naturals, slots, duration=60_000):
    return plan_track(naturals, slots, max_speed=CAP, duration_ms=duration)


def test_a_clip_that_fits_starts_with_its_line_at_natural_speed() -> None:
    (fit,) = plan([900], [(1000, 2000)])
    assert (fit.decision, fit.speed, fit.start_ms, fit.end_ms, fit.overflow_ms) == ("fits", 1.0, 1000, 1900, 0)


def test_a_slightly_long_clip_is_stretched_no_further_than_needed() -> None:
    (fit,) = plan([1100], [(1000, 2000)])
    assert fit.decision == "stretched" and 1.1 <= fit.speed < 1.101 and fit.end_ms <= 2000


def test_past_the_cap_it_borrows_the_silence_after_then_before() -> None:
    fits = plan([1000, 1500, 1000], [(0, 1000), (3000, 4000), (6000, 7000)])
    assert fits[1].decision == "borrowed" and fits[1].speed == CAP
    assert fits[1].start_ms == 3000 and fits[1].end_ms == 4200 and fits[1].borrowed_ms == 200
    tight = plan([1000, 1500, 1000], [(0, 1000), (3000, 4000), (4100, 5000)])
    assert tight[1].decision == "borrowed" and tight[1].start_ms < 3000  # the gap after was too small
    assert tight[1].start_ms >= 3000 - 250 and tight[1].end_ms <= 4100 - 80


def test_when_borrowing_is_not_enough_it_goes_past_the_cap_rather_than_overlap() -> None:
    fits = plan([1000, 1500, 1000], [(0, 1000), (1100, 2100), (2200, 3200)])
    assert fits[1].decision == "over-cap" and CAP < fits[1].speed <= CAP * 1.2
    assert fits[1].end_ms <= fits[2].start_ms


def test_what_still_does_not_fit_overflows_and_delays_the_next_line() -> None:
    fits = plan([4000, 800], [(0, 1000), (1000, 2000)])
    assert fits[0].decision == "overflow" and fits[0].overflow_ms > 0 and fits[0].speed == round(CAP * 1.2, 4)
    assert fits[1].start_ms >= fits[0].end_ms + 80  # later, not on top of it


def test_lines_that_overlapped_in_the_original_may_overlap_in_the_dub() -> None:
    fits = plan([1500, 1500], [(0, 1500), (1000, 2500)])
    assert fits[1].start_ms == 1000 and fits[0].end_ms > fits[1].start_ms


def test_dubs_never_overlap_when_the_originals_did_not() -> None:
    rng = random.Random(7)
    for _ in range(300):
        slots, t = [], 0
        for _ in range(rng.randint(1, 12)):
            t += rng.randint(0, 800)
            length = rng.randint(300, 4000)
            slots.append((t, t + length))
            t += length
        naturals = [rng.randint(200, 6000) for _ in slots]
        fits = plan(naturals, slots, duration=t + 2000)
        for a, b in zip(fits, fits[1:]):
            assert a.end_ms <= b.start_ms, (slots, naturals, fits)
        for fit, nat in zip(fits, naturals):
            assert 1.0 <= fit.speed <= CAP * 1.2 + 1e-9
            assert abs((fit.end_ms - fit.start_ms) - nat / fit.speed) <= 1
