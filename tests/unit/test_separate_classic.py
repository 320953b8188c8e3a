"""The classic separator (localize/stages/mix/separate/classic.py) on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from localize.core.errors import InputError, UnknownNameError
from localize.stages.mix.separate import SEPARATORS, SeparateOptions, create_separator
from localize.stages.mix.separate.classic import ClassicSeparator

RATE = 16_000
SPAN = (2000, 3000)  # ms


def _bed(n: int, stereo: bool) -> np.ndarray:
    t = np.arange(n) / RATE
    left = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 660 * t)
    if not stereo:
        return left[:, None].astype(np.float32)
    right = 0.1 * np.sin(2 * np.pi * 220 * t + 0.6) + 0.05 * np.sin(2 * np.pi * 660 * t + 1.1)
    return np.stack([left, right], axis=1).astype(np.float32)


def _burst(n: int) -> np.ndarray:
    """A voice-like burst (harmonics of 150 Hz, 1200-3000 Hz) inside SPAN."""
    t = np.arange(n) / RATE
    x = sum(np.sin(2 * np.pi * 150 * k * t) for k in range(8, 21)) * 0.05
    gate = np.zeros(n)
    gate[SPAN[0] * RATE // 1000 : SPAN[1] * RATE // 1000] = 1.0
    return (x * gate).astype(np.float32)


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.asarray(x, np.float64) ** 2) + 1e-20))


@pytest.mark.parametrize("stereo", [False, True])
def test_keeps_the_bed_and_attenuates_the_burst(tmp_path, stereo):
    n = 5 * RATE
    bed = _bed(n, stereo)
    voice = _burst(n)[:, None]
    mix = bed + voice
    sf.write(tmp_path / "mix.wav", mix, RATE, subtype="FLOAT")
    sep = ClassicSeparator()
    dialogue_path, background_path = sep.separate(tmp_path / "mix.wav", [SPAN], tmp_path / "out")
    assert (dialogue_path.name, background_path.name) == ("dialogue.wav", "background.wav")
    bg, rate = sf.read(background_path, dtype="float32", always_2d=True)
    dia, _ = sf.read(dialogue_path, dtype="float32", always_2d=True)
    assert rate == RATE and bg.shape == mix.shape == dia.shape
    assert np.allclose(bg + dia, mix, atol=1e-5)
    assert sep.last_used_mid_side is stereo
    # Away from the span (beyond padding and one window) the background is the input.
    far = np.r_[0 : int(1.6 * RATE), int(3.4 * RATE) : n]
    assert np.allclose(bg[far], mix[far], atol=1e-4)
    # Inside the span: the burst loses at least 15 dB, the bed keeps within 3 dB of its energy.
    inside = slice(int(2.1 * RATE), int(2.9 * RATE))
    residual = bg[inside] - bed[inside]
    assert _db(residual) - _db(np.repeat(voice[inside], bed.shape[1], axis=1)) < -15
    assert abs(_db(bg[inside]) - _db(bed[inside])) < 3


def test_no_spans_returns_the_input(tmp_path):
    mix = _bed(RATE, stereo=True)
    sf.write(tmp_path / "mix.wav", mix, RATE, subtype="FLOAT")
    _, bg_path = ClassicSeparator().separate(tmp_path / "mix.wav", [], tmp_path)
    bg, _ = sf.read(bg_path, dtype="float32", always_2d=True)
    assert np.array_equal(bg, mix)


def test_panned_voice_is_not_treated_as_centred():
    n = 5 * RATE
    mix = _bed(n, stereo=True)
    mix[:, 0] += _burst(n) * 2  # the voice only in the left channel
    sep = ClassicSeparator()
    bg = sep.background(mix, RATE, [SPAN])
    assert sep.last_used_mid_side is False
    assert bg.shape == mix.shape


def test_deterministic():
    n = 3 * RATE
    mix = _bed(n, stereo=True) + _burst(n)[:, None]
    a = ClassicSeparator().background(mix, RATE, [SPAN])
    b = ClassicSeparator().background(mix, RATE, [SPAN])
    assert np.array_equal(a, b)


def test_registry_and_errors(tmp_path):
    assert SEPARATORS.names() == ["classic", "demucs"]
    assert isinstance(create_separator(), ClassicSeparator)
    assert create_separator().model_version() == "classic-1"
    with pytest.raises(UnknownNameError, match="known: classic, demucs"):
        create_separator(SeparateOptions(backend="spleeter"))
    with pytest.raises(InputError, match="no such audio file"):
        ClassicSeparator().separate(tmp_path / "missing.wav", [SPAN], tmp_path)
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(InputError, match="cannot read it as audio"):
        ClassicSeparator().separate(tmp_path / "junk.wav", [SPAN], tmp_path)
