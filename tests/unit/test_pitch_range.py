"""Delivery: a line's intonation range is measured on the original and carried into espeak-ng's dub."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import Line
from localize.stages.voice.casting import pitch_range_st
from localize.stages.voice.dub import pitch_ranges
from localize.stages.voice.tts.espeak import EspeakSynthesizer

pytest.importorskip("librosa")
RATE = 16000


def _glide(low: float, high: float, seconds: float = 1.5) -> np.ndarray:
    """A voiced tone whose pitch sweeps from `low` to `high` Hz (log), with harmonics like a voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = low * (high / low) ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return (0.3 * np.sin(phase) + 0.15 * np.sin(2 * phase) + 0.05 * np.sin(3 * phase)).astype(np.float32)


def test_range_of_a_glide_is_its_span_in_semitones() -> None:
    # 10th to 90th percentile of a one-octave log sweep: 0.8 of 12 semitones.
    assert pitch_range_st(_glide(110, 220), RATE) == pytest.approx(9.6, abs=1.0)
    assert pitch_range_st(_glide(150, 152), RATE) < 0.5


def test_lines_get_their_range_relative_to_the_speakers_typical_line(tmp_path: Path) -> None:
    gap = np.zeros(RATE // 2, dtype=np.float32)
    audio = np.concatenate([_glide(120, 160), gap, _glide(110, 260), gap, _glide(125, 170), gap, _glide(130, 134)])
    sf.write(tmp_path / "a.wav", audio, RATE)
    spans = [(0, 1500), (2000, 3500), (4000, 5500), (6000, 7500)]
    lines = [Line(id=f"L{i}", start_ms=a, end_ms=b, text="x") for i, (a, b) in enumerate(spans)]
    ranges = pitch_ranges(tmp_path / "a.wav", lines)
    assert ranges["L1"] == 200  # the excited line: widest, capped at twice the typical
    assert ranges["L3"] == 40  # the monotone line: narrowest, floored
    assert 80 <= ranges["L0"] <= 120 and 80 <= ranges["L2"] <= 120


def test_espeak_speaks_a_wider_or_flatter_melody_on_request(tmp_path: Path) -> None:
    tts = EspeakSynthesizer()
    text = "Where were you last night? I waited for hours & you never came home."
    measured = {}
    for pct in (40, 100, 200):
        tts.synthesize(text, "en-us", tmp_path / f"{pct}.wav", pitch_range=pct)
        samples, rate = sf.read(tmp_path / f"{pct}.wav", dtype="float32")
        measured[pct] = pitch_range_st(samples, rate)
    assert measured[40] < measured[100] < measured[200]
    assert measured[200] - measured[40] > 3  # semitones
