"""Fit dubbed clips into the time their original lines take.

Each clip is trimmed of leading and trailing silence. Then, line by line
(:func:`plan_track`), the least intrusive step that makes it fit wins:

1. ``fits``: it is no longer than its slot, and starts where the line starts;
2. ``stretched``: a pitch-preserving time-stretch (ffmpeg rubberband) up to
   the market's cap (1.25x by default);
3. ``borrowed``: at the cap, it takes silence after its slot (up to the next
   line) and then before it (down to the previous dub, at most `max_lead_ms`
   early);
4. ``over-cap``: still too long, it is sped up past the cap, to a hard limit of
   cap x `emergency` (1.2), rather than overlap the next line;
5. ``overflow``: what is left runs on, and the next line starts later.

Dubs never overlap unless their original lines did. (A shorter rewrite by the
translation stage comes before all of this.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    decision: str = "fits"  # fits | stretched | borrowed | over-cap | overflow
    borrowed_ms: int = 0  # silence taken from around the slot


def plan_fit(natural_ms: int, slot_start_ms: int, slot_end_ms: int, max_speed: float) -> Fit:
    """Speed up only as much as the slot needs, never past `max_speed`."""
    slot = max(slot_end_ms - slot_start_ms, 1)
    # rounded up, so the rounded speed still fits the clip into its slot
    speed = 1.0 if natural_ms <= slot else min(math.ceil(natural_ms / slot * 10000) / 10000, max_speed)
    length = round(natural_ms / speed)
    return Fit(speed=speed, start_ms=slot_start_ms, end_ms=slot_start_ms + length,
               overflow_ms=max(0, length - slot))


def _ceil_speed(natural_ms: int, room_ms: int) -> float:
    return math.ceil(natural_ms / max(room_ms, 1) * 10000) / 10000


def plan_track(
    naturals: Sequence[int],
    slots: Sequence[tuple[int, int]],
    *,
    max_speed: float,
    duration_ms: int,
    guard_ms: int = 80,
    max_lead_ms: int = 250,
    emergency: float = 1.2,
) -> list[Fit]:
    """Where each clip goes and how fast, in slot order (see the module docstring)."""
    fits: list[Fit] = []
    prev_end = -guard_ms  # no dub before the first line
    for i, (natural, (start, end)) in enumerate(zip(naturals, slots, strict=True)):
        overlapped_before = i > 0 and start < slots[i - 1][1]
        # where this clip may start at the latest without a delay, and at the earliest when it borrows
        begin = start if overlapped_before else max(start, prev_end + guard_ms)
        earliest = begin if overlapped_before else min(begin, max(start - max_lead_ms, prev_end + guard_ms, 0))
        if i + 1 < len(slots):
            nxt = slots[i + 1][0]
            latest = max(end, nxt - guard_ms) if nxt >= end else end
        else:
            latest = max(end, duration_ms)
        room_here = max(end - begin, 1)
        if natural <= room_here and begin == start:
            fit = Fit(speed=1.0, start_ms=start, end_ms=start + natural, overflow_ms=0)
        elif _ceil_speed(natural, room_here) <= max_speed:
            speed = max(1.0, _ceil_speed(natural, room_here))
            fit = Fit(speed=speed, start_ms=begin, end_ms=begin + round(natural / speed), overflow_ms=0,
                      decision="stretched" if speed > 1.0 else "fits")
        else:
            length = natural / max_speed
            after = min(max(latest - end, 0), max(length - room_here, 0))
            lead = min(max(begin - earliest, 0), max(length - room_here - after, 0))
            first = begin - round(lead)
            room = (end + round(after)) - first
            if length <= room + 1:
                fit = Fit(speed=max_speed, start_ms=first, end_ms=first + round(length), overflow_ms=0,
                          decision="borrowed", borrowed_ms=round(after + lead))
            else:
                speed = _ceil_speed(natural, room)
                if speed <= max_speed * emergency:
                    fit = Fit(speed=speed, start_ms=first, end_ms=first + round(natural / speed), overflow_ms=0,
                              decision="over-cap", borrowed_ms=round(after + lead))
                else:
                    speed = round(max_speed * emergency, 4)
                    stop = first + round(natural / speed)
                    fit = Fit(speed=speed, start_ms=first, end_ms=stop, overflow_ms=max(0, stop - (end + round(after))),
                              decision="overflow", borrowed_ms=round(after + lead))
        fits.append(fit)
        prev_end = fit.end_ms
    return fits


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
