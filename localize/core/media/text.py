"""Text made safe for every subtitle format (and for a reviewer's edit), before any format's own escaping.

:func:`clean_text` splits rows at every kind of line separator, collapses spaces, drops empty rows,
control characters, lone surrogates, BOMs and non-characters (XML 1.0 cannot carry them), and writes
``-->`` (which ends a cue's timing in SRT and WebVTT) as ``->``; a row holding two clock times gets an
invisible word joiner after each one's hours, so that no reader takes it for a timing line.
:func:`reviewed_text` is a reviewer's edit as the one line a translation line holds; the review app
should store what it returns, so that the text it compares with the render's is the text the render
was made from.
"""

from __future__ import annotations

import re
import unicodedata

# Every way text can break a line: CR, LF, VT, FF, the information separators, NEL, U+2028 and U+2029.
_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_ARROWS = re.compile(r"-{2,}>")
# Two clock times on one row make a timing line to lenient SRT readers (pysubs2 needs no arrow).
_CLOCK = re.compile(r"(?<=\d:)(?=\d{1,2}:\d{1,2}[.,]\d)")
_WORD_JOINER = "\u2060"


def clean_text(text: str) -> str:
    """The rows of `text` made safe for SRT, WebVTT, ASS and TTML, joined with "\\n" ('' if none is left)."""
    rows = []
    for row in _BREAKS.split(text):
        kept = "".join(" " if ch == "\t" else ch for ch in row if ch == "\t" or not _unsafe(ch))
        kept = " ".join(_ARROWS.sub("->", kept).split())
        if len(_CLOCK.findall(kept)) >= 2:
            kept = _CLOCK.sub(_WORD_JOINER, kept)
        if kept:
            rows.append(kept)
    return "\n".join(rows)


def reviewed_text(text: str) -> str:
    """A reviewer's edit as one line of plain text: :func:`clean_text` with its rows joined by spaces."""
    return " ".join(clean_text(text).split("\n"))


def _unsafe(ch: str) -> bool:
    cat = unicodedata.category(ch)
    code = ord(ch)
    return (cat in ("Cc", "Cs") or ch == "\ufeff"
            or (cat == "Cn" and ((code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF)))


__all__ = ["clean_text", "reviewed_text"]
