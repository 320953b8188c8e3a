"""A human translation taken from an existing subtitle file.

Each cue goes to the source line it overlaps most in time; a line collects
its cues in order. A line that no cue overlaps gets None, and the caller
fills it from the machine route (flagged ``no-human-cue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from localize.core.artifacts import Line, TargetLine
from localize.stages.render.subtitles import load_subtitles


def align_human_translation(lines: Sequence[Line], path: Path) -> tuple[TargetLine | None, ...]:
    cues = load_subtitles(path)
    label = f"human:{Path(path).name}"
    taken: dict[int, list[str]] = {}
    for cue in cues:
        overlaps = [(min(ln.end_ms, cue.end_ms) - max(ln.start_ms, cue.start_ms), i) for i, ln in enumerate(lines)]
        best, index = max(overlaps, default=(0, -1))
        if best > 0:
            taken.setdefault(index, []).append(cue.text)
    return tuple(
        TargetLine(id=ln.id, source_text=ln.text, text=" ".join(taken[i]), route=(label,)) if i in taken else None
        for i, ln in enumerate(lines)
    )
