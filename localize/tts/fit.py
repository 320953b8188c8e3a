"""Fit a dubbed clip into the time its original line takes.

The clip is trimmed of leading and trailing silence, then sped up with a
pitch-preserving time-stretch (ffmpeg's rubberband filter) up to the
market's cap; whatever still does not fit is reported as overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SILENCE_DB = -40.0
PAD_MS = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    speed: float
    start_ms: int
    end_ms: int
    overflow_ms: int


def plan_fit(natural_ms: int, slot_start_ms: int, slot_end_ms: int, max_speed: float) -> Fit:
    """Speed up only as much as the slot needs, never past `max_speed`."""
    slot = max(slot_end_ms - slot_start_ms, 1)
    # rounded up, so the rounded speed still fits the clip into its slot
    speed = 1.0 if natural_ms <= slot else min(math.ceil(natural_ms / slot * 10000) / 10000, max_speed)
    length = round(natural_ms / speed)
    return Fit(speed=speed, start_ms=slot_start_ms, end_ms=slot_start_ms + length,
               overflow_ms=max(0, length - slot))


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing audio quieter than SILENCE_DB below the clip's peak."""
    if samples.size == 0:
        return samples
    mono = np.abs(samples if samples.ndim == 1 else samples.mean(axis=1))
    peak = float(mono.max())
    if peak <= 0:
        return samples[:0]
    loud = np.flatnonzero(mono >= peak * 10 ** (SILENCE_DB / 20))
    pad = int(rate * PAD_MS / 1000)
    return samples[max(loud[0] - pad, 0) : min(loud[-1] + pad + 1, len(samples))]
