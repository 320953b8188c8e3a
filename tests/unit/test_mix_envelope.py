"""duck_envelope (localize/stages/mix/mixer.py)."""

from __future__ import annotations

import numpy as np
import pytest

from localize.stages.mix.mixer import RAMP_MS, duck_envelope

RATE = 1000  # one sample per ms
RAMP = RATE * RAMP_MS // 1000
LOW = 10 ** (-15.0 / 20)


def test_no_spans_is_unity_gain():
    env = duck_envelope(500, RATE, [], -15.0)
    assert env.dtype == np.float32 and env.shape == (500,)
    assert np.all(env == 1.0)


def test_inside_a_span_the_gain_is_duck_db():
    env = duck_envelope(2000, RATE, [(500, 1000)], -15.0)
    assert np.allclose(env[500:1000], LOW)
    assert np.all(env[: 500 - RAMP] == 1.0)
    assert np.all(env[1000 + RAMP :] == 1.0)


@pytest.mark.parametrize("duck_db", [-6.0, -15.0, -30.0])
def test_duck_level_follows_duck_db(duck_db):
    env = duck_envelope(1000, RATE, [(200, 400)], duck_db)
    assert env[300] == pytest.approx(10 ** (duck_db / 20), rel=1e-6)


def test_ramps_are_monotonic_and_bounded():
    env = duck_envelope(2000, RATE, [(500, 1000)], -15.0)
    fade_in = env[500 - RAMP : 501]
    fade_out = env[999 : 1000 + RAMP + 1]
    assert np.all(np.diff(fade_in) <= 0) and fade_in[0] == pytest.approx(1.0) and fade_in[-1] == pytest.approx(LOW)
    assert np.all(np.diff(fade_out) >= 0) and fade_out[0] == pytest.approx(LOW) and fade_out[-1] == pytest.approx(1.0)
    assert np.all((env >= LOW - 1e-6) & (env <= 1.0))
    # a real ramp, not a step
    assert LOW < env[500 - RAMP // 2] < 1.0
    assert LOW < env[1000 + RAMP // 2] < 1.0


def test_realistic_rate_and_several_spans():
    rate = 48000
    env = duck_envelope(rate * 3, rate, [(100, 600), (2000, 2500)], -12.0)
    low = 10 ** (-12 / 20)
    ms = lambda t: int(t * rate / 1000)  # noqa: E731
    assert np.allclose(env[ms(100) : ms(600)], low)
    assert np.allclose(env[ms(2000) : ms(2500)], low)
    assert env[ms(1300)] == 1.0  # between the spans, far from both ramps
    assert np.all(np.diff(env[ms(600) : ms(600 + RAMP_MS)]) >= 0)
    assert np.all(np.diff(env[ms(2000 - RAMP_MS) : ms(2000)]) <= 0)


def test_overlapping_spans_stay_ducked_and_never_go_below_the_floor():
    env = duck_envelope(3000, RATE, [(500, 1000), (900, 1500), (1520, 1600)], -15.0)
    assert np.allclose(env[500:1500], LOW)
    assert np.allclose(env[1520:1600], LOW)
    # a 20 ms gap is inside both ramps: the lower of the two, so it barely rises
    gap = env[1500:1520]
    assert np.all(gap >= LOW - 1e-6) and gap.max() < LOW + (1 - LOW) * 11 / RAMP
    assert env.min() == pytest.approx(LOW)


def test_spans_at_or_past_the_edges():
    env = duck_envelope(1000, RATE, [(0, 100), (950, 5000), (4000, 4500)], -15.0)
    assert np.allclose(env[:100], LOW)
    assert np.allclose(env[950:], LOW)
    assert env.shape == (1000,)
    assert np.all(np.diff(env[850:951]) <= 0)
