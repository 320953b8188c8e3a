"""From per-frame readings to cues: pure functions, no video and no model.

A sampled frame's OCR boxes are joined into one text (:func:`join_boxes`); runs of
consecutive frames that read the same text, give or take OCR noise, become one
:class:`~localize.core.artifacts.OcrCue` (:func:`merge_readings`).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from localize.core.artifacts import OcrCue

Box = tuple[int, int, int, int]  # x, y, width, height


@dataclass(frozen=True, slots=True, kw_only=True)
class TextBox:
    """One text line a reader found in an image, in that image's pixels."""

    x: int
    y: int
    width: int
    height: int
    text: str
    confidence: float

    @property
    def box(self) -> Box:
        return (self.x, self.y, self.width, self.height)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameReading:
    """What one sampled frame's subtitle band says.

    `since_ms` is when the picture this frame shows began, and `previous_until_ms`
    when the previous sample's picture ended: the boundaries with the previous sample,
    refined between samples where the scan could. They differ when something unsampled
    (a short gap) came between; None means the same as `since_ms`. An empty `text`
    means no subtitle.
    """

    t_ms: int
    since_ms: int
    previous_until_ms: int | None = None
    text: str = ""
    box: Box | None = None
    confidence: float = 0.0


def normalise(text: str) -> str:
    """Strip surrounding space and collapse inner runs of space to one; characters stay as read."""
    return " ".join(text.split())


def text_key(text: str) -> str:
    """The text to compare readings by: letters and digits only, case-folded."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN").casefold()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of one character each."""
    return Levenshtein.distance(a, b)


def text_distance(a: str, b: str) -> float:
    """Edit distance between the texts' keys over the longer key: 0 same, 1 nothing in common."""
    return Levenshtein.normalized_distance(text_key(a), text_key(b))


def union_box(boxes: Sequence[Box]) -> Box:
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return (left, top, right - left, bottom - top)


def join_boxes(boxes: Sequence[TextBox]) -> tuple[str, Box | None, float]:
    """Join one frame's boxes into (text, union box, confidence).

    Boxes whose vertical centres lie within half a line of each other form a row; rows
    read top to bottom, boxes in a row left to right. A gap wider than 0.6 of the row's
    height becomes a space, and so does a row break. The confidence is the mean over
    boxes, weighted by their text length.
    """
    kept = [b for b in boxes if text_key(b.text)]
    if not kept:
        return "", None, 0.0
    rows: list[list[TextBox]] = []
    for b in sorted(kept, key=lambda b: b.y + b.height / 2):
        if rows:
            row = rows[-1]
            centre = sum(r.y + r.height / 2 for r in row) / len(row)
            height = sum(r.height for r in row) / len(row)
            if abs(b.y + b.height / 2 - centre) <= height / 2:
                row.append(b)
                continue
        rows.append([b])
    parts = []
    for row in rows:
        row.sort(key=lambda b: b.x)
        height = sum(b.height for b in row) / len(row)
        text = normalise(row[0].text)
        for left, right in itertools.pairwise(row):
            gap = right.x - (left.x + left.width)
            text += (" " if gap > 0.6 * height else "") + normalise(right.text)
        parts.append(text)
    weights = [max(1, len(text_key(b.text))) for b in kept]
    confidence = sum(w * b.confidence for w, b in zip(weights, kept, strict=True)) / sum(weights)
    return normalise(" ".join(parts)), union_box([b.box for b in kept]), confidence


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeOptions:
    max_distance: float = 0.3  # readings this close (normalised edit distance) are the same text
    flicker_confidence: float = 0.85  # a one-frame run below this mean confidence is dropped
    max_gap: int = 1  # sampled frames of nothing (or of a dropped flicker) a cue may bridge


@dataclass(slots=True)
class _Run:
    first: int  # index of the first and last readings in the run
    last: int
    readings: list[FrameReading]


def merge_readings(
    readings: Sequence[FrameReading], *, end_ms: int, options: MergeOptions = MergeOptions()
) -> tuple[OcrCue, ...]:
    """Merge consecutive readings of the same text into cues.

    1. Consecutive non-empty readings within `max_distance` of the previous one form a run.
    2. A run of one reading with confidence under `flicker_confidence` is dropped.
    3. Neighbouring runs of the same text with at most `max_gap` samples between them merge.

    A cue starts at its first reading's `since_ms` and ends at the `previous_until_ms` of the
    reading after its last one (or at `end_ms`). Its text is the variant with the highest summed
    confidence; its box is the union of the boxes; its confidence the mean.
    """
    runs: list[_Run] = []
    for i, r in enumerate(readings):
        if not text_key(r.text):
            continue
        follows = runs and runs[-1].last == i - 1
        if follows and text_distance(runs[-1].readings[-1].text, r.text) <= options.max_distance:
            runs[-1].last = i
            runs[-1].readings.append(r)
        else:
            runs.append(_Run(i, i, [r]))
    runs = [run for run in runs if len(run.readings) > 1 or run.readings[0].confidence >= options.flicker_confidence]
    merged: list[_Run] = []
    for run in runs:
        if merged:
            prev = merged[-1]
            close = run.first - prev.last - 1 <= options.max_gap
            if close and text_distance(_best_text(prev.readings), _best_text(run.readings)) <= options.max_distance:
                prev.last = run.last
                prev.readings.extend(run.readings)
                continue
        merged.append(run)
    cues = []
    for run in merged:
        start = max(0, run.readings[0].since_ms)
        end = _previous_until(readings[run.last + 1]) if run.last + 1 < len(readings) else end_ms
        end = max(end, start + 1)
        boxes = [r.box for r in run.readings if r.box is not None]
        cues.append(
            OcrCue(
                start_ms=start,
                end_ms=end,
                text=_best_text(run.readings),
                box=union_box(boxes) if boxes else (0, 0, 0, 0),
                confidence=round(sum(r.confidence for r in run.readings) / len(run.readings), 4),
            )
        )
    return tuple(cues)


def _previous_until(reading: FrameReading) -> int:
    return reading.since_ms if reading.previous_until_ms is None else reading.previous_until_ms


def _best_text(readings: Sequence[FrameReading]) -> str:
    votes: dict[str, float] = {}
    for r in readings:
        votes[r.text] = votes.get(r.text, 0.0) + r.confidence
    return max(votes.items(), key=lambda kv: (kv[1], len(kv[0])))[0]
