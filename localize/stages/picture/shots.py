"""Shot boundaries: where the picture cuts (PySceneDetect's ContentDetector, the `picture` extra).

A shot is a run of frames with no cut; face tracks never cross one. A video without a cut is
one shot from 0 to its duration.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from localize.core.errors import MissingExtraError

log = logging.getLogger(__name__)

# A change in what detection finds bumps FACES (localize/stages/picture/lipstage.py), the artifact holding shots.
THRESHOLD = 27.0  # ContentDetector's default: mean HSV change between frames that counts as a cut
MIN_SHOT_MS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Shot:
    index: int
    start_ms: int
    end_ms: int

    def covers(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms < self.end_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Shots:
    video: str
    duration_ms: int
    threshold: float
    shots: tuple[Shot, ...]

    def at(self, t_ms: int) -> Shot:
        """The shot showing `t_ms` (the last one past the end)."""
        for shot in self.shots:
            if shot.covers(t_ms):
                return shot
        return self.shots[-1] if t_ms >= self.duration_ms else self.shots[0]


def shots_from_cuts(cuts_ms: list[int], duration_ms: int) -> tuple[Shot, ...]:
    """Shots between sorted cut times; cuts closer than MIN_SHOT_MS to the previous one are dropped."""
    bounds = [0]
    for cut in sorted(cuts_ms):
        if cut - bounds[-1] >= MIN_SHOT_MS and duration_ms - cut >= MIN_SHOT_MS:
            bounds.append(cut)
    bounds.append(max(duration_ms, bounds[-1] + 1))
    return tuple(Shot(index=i, start_ms=a, end_ms=b) for i, (a, b) in enumerate(itertools.pairwise(bounds)))


def detect_shots(video: Path, duration_ms: int, *, threshold: float = THRESHOLD) -> Shots:
    """The shots of `video`, found by PySceneDetect's content detector."""
    try:
        from scenedetect import ContentDetector, detect
    except ImportError as exc:
        raise MissingExtraError("shots", "picture", "scenedetect") from exc
    scenes = detect(str(video), ContentDetector(threshold=threshold, min_scene_len=15))
    cuts = [round(float(start.seconds) * 1000) for start, _ in scenes[1:]]
    shots = shots_from_cuts(cuts, duration_ms)
    log.info("%s: %d shot(s)", Path(video).name, len(shots))
    return Shots(video=Path(video).name, duration_ms=duration_ms, threshold=threshold, shots=shots)
