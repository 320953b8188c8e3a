"""Subtitle files read back by parsers other than localize's: ttconv (Sandflow's IMSC/SRT/WebVTT reader)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as et
from fractions import Fraction
from pathlib import Path

import pytest
import ttconv.imsc.reader as imsc_reader
import ttconv.model as model
import ttconv.srt.reader as srt_reader
import ttconv.vtt.reader as vtt_reader


class _Problems(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def ttconv_cues(path: Path) -> list[tuple[int, int, list[str]]]:
    """(begin ms, end ms, rows) of each paragraph as ttconv reads `path` (.ttml, .srt or .vtt); fails the test
    when ttconv rejects the document or warns about anything in it."""
    problems = _Problems()
    logger = logging.getLogger("ttconv")
    logger.addHandler(problems)
    try:
        if path.suffix == ".ttml":
            doc = imsc_reader.to_model(et.parse(path))
        else:
            reader = srt_reader if path.suffix == ".srt" else vtt_reader
            with path.open(encoding="utf-8") as f:
                doc = reader.to_model(f)
    finally:
        logger.removeHandler(problems)
    if doc is None or problems.messages:
        pytest.fail(f"ttconv rejects {path.name}: {problems.messages}")
    body = doc.get_body()
    assert body is not None, f"{path.name} has no body"
    cues = []
    for p in _paragraphs(body, Fraction(0)):
        cues.append(p)
    return cues


def _paragraphs(el: model.ContentElement, offset: Fraction) -> list[tuple[int, int, list[str]]]:
    begin = offset + (el.get_begin() or 0)
    if isinstance(el, model.P):
        end = el.get_end()
        rows = [""]
        _text(el, rows)
        return [(round(begin * 1000), round((offset + end) * 1000) if end is not None else -1,
                 [r.strip() for r in rows])]
    out = []
    for child in el:
        out.extend(_paragraphs(child, begin))
    return out


def _text(el: model.ContentElement, rows: list[str]) -> None:
    for child in el:
        if isinstance(child, model.Br):
            rows.append("")
        elif isinstance(child, model.Text):
            rows[-1] += child.get_text()
        else:
            _text(child, rows)
