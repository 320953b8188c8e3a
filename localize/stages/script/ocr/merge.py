"""From per-frame readings to cues: pure functions, no video and no model.

A sampled frame's OCR boxes are joined into one text (:func:`join_boxes`); runs of
consecutive frames that read the same text, give or take OCR noise, become one
:class:`~localize.core.artifacts.OcrCue` (:func:`merge_readings`).
"""

from __future__ import annotations

import dataclasses
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
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


def cut_static(box: TextBox, static: TextBox, *, min_score: float = 80.0) -> TextBox | None:
    """`box` without the static text (:func:`static_boxes`) the reader joined to it, or None when
    nothing is left; `box` itself when it does not overlap `static` or does not contain its text.

    The detector draws one box around a subtitle row and a watermark on (or touching) the same row,
    and neither the corner filter nor the static-text filter sees such a box alone. Where the box
    overlaps the static one and the static text is found in its text (fuzzily, `min_score` of 100),
    that text goes, with any of its characters the alignment left at the ends of the cut; the box
    then ends where the static one begins (or begins where it ends).
    """
    if not (box.x < static.x + static.width and static.x < box.x + box.width
            and box.y < static.y + static.height and static.y < box.y + box.height):
        return box
    found = fuzz.partial_ratio_alignment(static.text, box.text)
    if found is None or found.score < min_score:
        return box
    start, end, mark = found.dest_start, found.dest_end, set(static.text) | {" "}
    while start > 0 and box.text[start - 1] in mark:
        start -= 1
    while end < len(box.text) and box.text[end] in mark:
        end += 1
    text = normalise(box.text[:start] + " " + box.text[end:])
    if not text_key(text):
        return None
    left, right = box.x, box.x + box.width
    if static.x + static.width / 2 >= box.x + box.width / 2:
        right = max(left + 1, min(right, static.x))
    else:
        left = min(right - 1, max(left, static.x + static.width))
    return dataclasses.replace(box, x=left, width=right - left, text=text)


def is_cjk(ch: str) -> bool:
    """A character written without spaces around it: han, kana, hangul, and their full-width punctuation."""
    return ("\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"
            or "\uff00" <= ch <= "\uffef")


def script_of(text: str) -> str:
    """``"cjk"`` when most of the text's letters are CJK, else ``"latin"`` (any space-separated script)."""
    letters = text_key(text)
    return "cjk" if letters and sum(map(is_cjk, letters)) * 2 >= len(letters) else "latin"


def glue(left: str, right: str) -> str:
    """Join two pieces of one subtitle across a line break: no space where either side is CJK."""
    if not left or not right:
        return left or right
    return left + ("" if is_cjk(left[-1]) or is_cjk(right[0]) else " ") + right


def rows_of(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """Boxes whose vertical centres lie within half a line of each other form a row; rows top to
    bottom, boxes in a row left to right. Boxes with no letter or digit are dropped."""
    rows: list[list[TextBox]] = []
    for b in sorted((b for b in boxes if text_key(b.text)), key=lambda b: b.y + b.height / 2):
        if rows:
            row = rows[-1]
            centre = sum(r.y + r.height / 2 for r in row) / len(row)
            height = sum(r.height for r in row) / len(row)
            if abs(b.y + b.height / 2 - centre) <= height / 2:
                row.append(b)
                continue
        rows.append([b])
    for row in rows:
        row.sort(key=lambda b: b.x)
    return rows


def join_boxes(boxes: Sequence[TextBox]) -> tuple[str, Box | None, float]:
    """Join one frame's boxes into (text, union box, confidence).

    Rows (:func:`rows_of`) read top to bottom, boxes in a row left to right. Inside a row a
    gap wider than 0.6 of the row's height becomes a space (Chinese subtitles use a wide gap
    as a pause, so it stays). A row break is a space between words of space-separated
    scripts and nothing where CJK meets it (:func:`glue`): "学的是" + "金融学专业嘛" is one
    phrase. The confidence is the mean over boxes, weighted by their text length.
    """
    rows = rows_of(boxes)
    kept = [b for row in rows for b in row]
    if not kept:
        return "", None, 0.0
    text = ""
    for row in rows:
        height = sum(b.height for b in row) / len(row)
        line = normalise(row[0].text)
        for left, right in itertools.pairwise(row):
            gap = right.x - (left.x + left.width)
            line += (" " if gap > 0.6 * height else "") + normalise(right.text)
        text = glue(text, line)
    weights = [max(1, len(text_key(b.text))) for b in kept]
    confidence = sum(w * b.confidence for w, b in zip(weights, kept, strict=True)) / sum(weights)
    return normalise(text), union_box([b.box for b in kept]), confidence


def split_scripts(boxes: Sequence[TextBox]) -> dict[str, list[TextBox]]:
    """One frame's rows by script (:func:`script_of` of each row): a bilingual subtitle's Chinese
    rows and its English rows are two subtitles, each read and merged on its own."""
    out: dict[str, list[TextBox]] = {}
    for row in rows_of(boxes):
        out.setdefault(script_of("".join(b.text for b in row)), []).extend(row)
    return out


def off_centre(boxes: Sequence[TextBox], *, width: int, max_off: float = 0.25) -> list[TextBox]:
    """The boxes that are no part of a centred subtitle row: in each row, boxes closer than two line
    heights form a block, and a block whose centre lies more than `max_off` of `width` from the
    middle (a logo or a watermark in a corner) is not subtitles."""
    dropped: list[TextBox] = []
    for row in rows_of(boxes):
        height = sum(b.height for b in row) / len(row)
        blocks: list[list[TextBox]] = [[row[0]]]
        for left, right in itertools.pairwise(row):
            if right.x - (left.x + left.width) > 2 * height:
                blocks.append([])
            blocks[-1].append(right)
        for block in blocks:
            x, _, w, _ = union_box([b.box for b in block])
            if abs(x + w / 2 - width / 2) > max_off * width:
                dropped.extend(block)
    return dropped


@dataclass(slots=True)
class _Spot:
    box: TextBox  # the first reading of it
    samples: int  # samples it was seen in
    others: set[str]  # what the rest of the picture's text read while it was there


def static_boxes(samples: Sequence[Sequence[TextBox]], *, share: float = 0.5, changes: int = 3) -> list[TextBox]:
    """Text that stays put: boxes that read the same (give or take OCR noise) at the same place (within
    a line height) in at least `share` of the samples, while the rest of the picture's text changed at
    least `changes` times: a watermark, a logo, a channel's name; never a subtitle. One box per spot."""
    spots: list[_Spot] = []
    for boxes in samples:
        for b in boxes:
            spot = next((s for s in spots if same_spot(s.box, b)), None)
            if spot is None:
                spot = _Spot(b, 0, set())
                spots.append(spot)
            spot.samples += 1
            spot.others.add("".join(text_key(o.text) for o in boxes if o is not b))
    need = max(2, share * len(samples))
    return [s.box for s in spots if s.samples >= need and len(s.others) > changes]


def same_spot(a: TextBox, b: TextBox, max_distance: float = 0.3) -> bool:
    """The same text at the same place: centres within a line height, texts within `max_distance`."""
    line = max(a.height, b.height, 1)
    return (abs(a.x + a.width / 2 - b.x - b.width / 2) <= line and abs(a.y + a.height / 2 - b.y - b.height / 2) <= line
            and text_distance(a.text, b.text) <= max_distance)


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
