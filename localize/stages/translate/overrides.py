"""Reviewers' lines in place of the machine's: the translation a reviewed market is dubbed and rendered from."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from localize.core.artifacts import LineOverride, Script, Translation
from localize.core.media.text import reviewed_text
from localize.core.stage import Stage

log = logging.getLogger(__name__)
OVERRIDES = Stage("overrides", version=2)


@dataclass(frozen=True, slots=True)
class Reviewed:
    """The translation a market is dubbed and rendered from: the machine's with reviewers' lines applied."""

    key: str
    translation: Translation
    applied: Mapping[str, LineOverride] = field(default_factory=dict)


def apply_overrides(script: Script, tr_key: str, translation: Translation,
                    overrides: Sequence[LineOverride]) -> Reviewed:
    """The translation with each reviewer override in place of the machine's line, while that line's source
    text is still the one the reviewer saw.

    A reviewer's text is one line of plain text: line breaks of any kind become spaces, control characters
    go, and ``-->`` is written ``->`` (:func:`~localize.core.media.text.reviewed_text`), so that no edit
    can break a subtitle file; an edit left empty by that is ignored."""
    if not overrides:
        return Reviewed(tr_key, translation)
    source = {ln.id: ln.text for ln in script.lines}
    applied = {}
    for o in overrides:
        o = replace(o, target_text=reviewed_text(o.target_text))
        if not o.target_text:
            log.warning("override of %s ignored: its text is empty", o.id)
        elif o.id not in source:
            log.warning("override of %s ignored: the script has no such line", o.id)
        elif source[o.id] != o.source_text:
            log.warning("override of %s ignored: its source line changed (%r -> %r)", o.id, o.source_text,
                        source[o.id])
        else:
            applied[o.id] = o
    if not applied:
        return Reviewed(tr_key, translation)
    lines = tuple(replace(t, text=applied[t.id].target_text, flags=(*t.flags, "reviewed"), route=("reviewer",))
                  if t.id in applied else t for t in translation.lines)
    key = OVERRIDES.key(inputs=[tr_key],
                        options={i: [o.source_text, o.target_text, o.voice] for i, o in sorted(applied.items())})
    return Reviewed(key, replace(translation, lines=lines), applied)
