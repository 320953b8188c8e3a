"""plan_fit and trim_silence (localize/stages/voice/tts/fit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from localize.stages.voice.tts.fit import PAD_MS, Fit, plan_fit, trim_silence


def test_no_stretch_when_the_clip_fits():
    assert plan_fit(800, 1000, 2000, 1.25) == Fit(speed=1.0, start_ms=1000, end_ms=1800, overflow_ms=0)
    assert plan_fit(1000, 1000, 2000, 1.25) == Fit(speed=1.0, start_ms=1000, end_ms=2000, overflow_ms=0)


def test_speeds_up_only_as_much_as_the_slot_needs():
    fit = plan_fit(1100, 500, 1500, 1.25)
    assert fit == Fit(speed=1.1, start_ms=500, end_ms=1500, overflow_ms=0)


def test_speed_is_capped_and_the_rest_is_overflow():
    fit = plan_fit(2000, 0, 1000, 1.25)
    assert fit == Fit(speed=1.25, start_ms=0, end_ms=1600, overflow_ms=600)
    fit = plan_fit(1000, 100, 600, 1.5)
    assert fit.speed == 1.5 and fit.end_ms == 100 + 667 and fit.overflow_ms == 167


def test_an_empty_slot_does_not_divide_by_zero():
    fit = plan_fit(500, 300, 300, 1.25)
    assert fit.speed == 1.25 and fit.end_ms == 700 and fit.overflow_ms == 399


@pytest.mark.parametrize(("natural", "slot"), [(1234, 1000), (5999, 5000), (7000, 6000), (2500, 2001)])
def test_within_the_cap_short_slots_fit_exactly(natural, slot):
    fit = plan_fit(natural, 0, slot, 1.25)
    assert 1.0 < fit.speed <= 1.25
    assert fit.overflow_ms == 0
    assert fit.end_ms <= slot


def test_within_the_cap_long_slot_has_no_rounding_overflow():
    fit = plan_fit(10167, 0, 10127, 1.25)
    assert fit.overflow_ms == 0


RATE = 1000  # one sample per ms keeps the arithmetic readable
PAD = RATE * PAD_MS // 1000


def test_trim_silence_keeps_the_loud_part_plus_padding():
    x = np.zeros(300, dtype=np.float32)
    x[100:150] = 0.5
    out = trim_silence(x, RATE)
    assert len(out) == 50 + 2 * PAD
    assert np.array_equal(out, x[100 - PAD : 150 + PAD])


def test_trim_silence_threshold_is_40_db_below_the_peak():
    x = np.zeros(400, dtype=np.float32)
    x[50] = 0.005  # -46 dB below the peak: silence
    x[100] = 0.02  # -34 dB: kept
    x[200:210] = 1.0
    x[350] = 0.004  # silence
    out = trim_silence(x, RATE)
    assert len(out) == (209 + PAD + 1) - (100 - PAD)
    assert out[PAD] == pytest.approx(0.02)


def test_trim_silence_padding_is_clipped_at_the_edges():
    x = np.ones(40, dtype=np.float32)
    assert len(trim_silence(x, RATE)) == 40


def test_trim_silence_stereo_trims_rows_and_keeps_channels():
    x = np.zeros((200, 2), dtype=np.float32)
    x[120:130, 0] = 0.8
    x[120:130, 1] = -0.6
    out = trim_silence(x, RATE)
    assert out.shape == (10 + 2 * PAD, 2)
    assert np.array_equal(out, x[120 - PAD : 130 + PAD])


def test_trim_silence_of_silence_or_nothing_is_empty():
    assert trim_silence(np.zeros(100, dtype=np.float32), RATE).size == 0
    assert trim_silence(np.zeros(0, dtype=np.float32), RATE).size == 0
