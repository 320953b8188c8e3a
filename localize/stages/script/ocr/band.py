"""Where the subtitles sit, and whether the subtitle picture changed: pure numpy.

:func:`find_band` picks the rows where text boxes recur across a handful of probe
frames. :func:`contrast_mask` and :func:`mask_distance` compare two crops of that
band cheaply: burned-in subtitles are drawn with hard, high-contrast edges (a light
fill with a dark outline or shadow), so the pixels with a strong local contrast are
mostly the letters, and they barely move while one subtitle stays on screen.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from localize.stages.script.ocr.merge import TextBox, text_distance, text_key


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """A horizontal strip of an image, in that image's rows."""

    top: int
    bottom: int  # exclusive
    line_height: int  # median height of the text lines found in it
    hits: int  # probe frames with text in it


@dataclass(frozen=True, slots=True, kw_only=True)
class BandRules:
    min_confidence: float = 0.6
    min_hits: int = 2  # probe frames that must show text in the band
    max_off_centre: float = 0.25  # a subtitle's centre lies within this fraction of the width from the middle
    static_share: float = 0.5  # text seen in at least this share of probes...
    static_same: float = 0.8  # ...that reads the same in this share of them is an overlay, not subtitles
    same_text: float = 0.3  # readings this close (normalised edit distance) count as the same text
    pad: float = 0.35  # margin above and below the text, in line heights
    grow_lines: float = 1.3  # room above for a second line when the probes saw only one-line subtitles
    # Off by default: a taller strip than the rows made PP-OCR read English without its word spaces
    # (tests/integration/test_fusion_real.py); 1.3 gives room for one more row below.
    grow_below: float = 0.0  # room below the lowest line seen, in line heights, for a subtitle one row longer


def find_band(
    probes: Sequence[Sequence[TextBox]], *, width: int, height: int, rules: BandRules = BandRules()
) -> Band | None:
    """The band where subtitles recur across `probes` (each one frame's boxes), or None.

    Boxes that are confident, wider than tall and roughly centred are grouped by the
    rows they cover (overlapping or less than half a line apart, so two-line subtitles
    form one band). A group seen in at least `static_share` of the probes that reads the
    same text (give or take OCR noise) in `static_same` of them is a watermark or a title,
    not subtitles. Of the rest, the group seen in the most probes wins (the lower one on a
    tie), if it is seen in `min_hits` probes. A band whose probes only ever showed one row
    of text gets room above for a second (subtitles are anchored at the bottom and grow
    upwards), and every band gets room for one more row below its lowest (a bilingual
    subtitle's longest cue may end lower than the probes saw), short of an overlay below it.
    """
    found: list[tuple[int, TextBox]] = []
    for index, boxes in enumerate(probes):
        for b in boxes:
            centre = b.x + b.width / 2
            if (
                b.confidence >= rules.min_confidence
                and text_key(b.text)
                and b.width >= b.height > 0
                and abs(centre - width / 2) <= rules.max_off_centre * width
            ):
                found.append((index, b))
    if not found:
        return None
    groups: list[list[tuple[int, TextBox]]] = []
    for item in sorted(found, key=lambda item: item[1].y):
        b = item[1]
        if groups:
            group = groups[-1]
            bottom = max(g.y + g.height for _, g in group)
            line = statistics.median(g.height for _, g in group)
            if b.y <= bottom + line / 2:
                group.append(item)
                continue
        groups.append([item])
    overlay = [_overlay(group, len(probes), rules) for group in groups]
    overlays = [min(b.y for _, b in g) for g, o in zip(groups, overlay, strict=True) if o]  # their tops
    best: Band | None = None
    for group, is_overlay in zip(groups, overlay, strict=True):
        frames = {index for index, _ in group}
        if is_overlay:
            continue  # on screen in most probes and (almost) always the same text
        if len(frames) < rules.min_hits:
            continue
        line = round(statistics.median(b.height for _, b in group))
        pad = max(4, round(rules.pad * line))
        rows = max(_rows([b for i, b in group if i == f]) for f in frames)
        grow = round(rules.grow_lines * line) if rows == 1 else 0
        lowest = max(b.y + b.height for _, b in group)
        below = min([height, *(top for top in overlays if top >= lowest)])
        band = Band(
            top=max(0, min(b.y for _, b in group) - pad - grow),
            bottom=min(below, lowest + pad + round(rules.grow_below * line)),
            line_height=line,
            hits=len(frames),
        )
        if best is None or (band.hits, band.bottom) >= (best.hits, best.bottom):
            best = band
    return best


def _overlay(group: Sequence[tuple[int, TextBox]], probes: int, rules: BandRules) -> bool:
    """Text seen in most probes that (almost) always reads the same: a watermark or a title."""
    frames = {index for index, _ in group}
    texts = ["".join(b.text for i, b in sorted(group, key=lambda it: it[1].x) if i == f) for f in frames]
    mode = Counter(text_key(t) for t in texts).most_common(1)[0][0]
    same = sum(text_distance(t, mode) <= rules.same_text for t in texts)
    return len(frames) >= max(3, rules.static_share * probes) and same >= rules.static_same * len(frames)


def _rows(boxes: Sequence[TextBox]) -> int:
    """How many rows of text the boxes form (boxes overlapping vertically share a row)."""
    bottoms: list[int] = []
    for b in sorted(boxes, key=lambda b: b.y):
        if bottoms and b.y < bottoms[-1] - b.height / 2:
            bottoms[-1] = max(bottoms[-1], b.y + b.height)
        else:
            bottoms.append(b.y + b.height)
    return len(bottoms)


def contrast_mask(gray: np.ndarray, threshold: int = 150) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood spans at least `threshold` grey levels."""
    g = gray.astype(np.int16)
    high = g.copy()
    low = g.copy()
    padded = np.pad(g, 1, mode="edge")
    h, w = g.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy == 1 and dx == 1:
                continue
            shifted = padded[dy : dy + h, dx : dx + w]
            np.maximum(high, shifted, out=high)
            np.minimum(low, shifted, out=low)
    return (high - low) >= threshold


def mask_distance(a: np.ndarray, b: np.ndarray, floor: float = 0.005) -> float:
    """How much two contrast masks differ: the pixels in one only, over the larger mask.

    0 for the same subtitle; about 1 when one subtitle replaces another or disappears.
    `floor` (a share of the image) keeps nearly empty masks from reading as big changes.
    """
    changed = int(np.count_nonzero(a ^ b))
    larger = max(int(np.count_nonzero(a)), int(np.count_nonzero(b)), floor * a.size, 1.0)
    return changed / larger
