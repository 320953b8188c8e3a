"""Strict checks of timed-text files that pysubs2 reads leniently.

pysubs2 skips a cue whose timestamp is malformed, or glues its text onto the
cue before. For a script that is data loss, so SRT, WebVTT and SBV files are
checked first, and the first problem is reported with its line number.
"""

from __future__ import annotations

import re

_T = r"(?:\d{1,2}:)?\d{1,2}:\d{2}[,.]\d{1,3}"
_ARROW = re.compile(rf"^\s*(?P<a>{_T})\s*-->\s*(?P<b>{_T})(?:\s+\S.*)?\s*$")
_SBV = re.compile(r"^\s*(?P<a>\d+:\d{2}:\d{2}\.\d{3}),(?P<b>\d+:\d{2}:\d{2}\.\d{3})\s*$")
_VTT_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")


def _ms(stamp: str) -> int:
    parts = re.split(r"[:,.]", stamp.strip())
    *hms, frac = parts
    seconds = 0
    for p in hms:
        seconds = seconds * 60 + int(p)
    return seconds * 1000 + int(frac.ljust(3, "0")[:3])


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Blocks of (line number, line) separated by empty lines (a line of spaces is cue text in WebVTT)."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        if line:
            blocks[-1].append((number, line))
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def normalise_vtt(text: str) -> str:
    """Cue blocks as the WebVTT parsing rules see them, in a shape pysubs2 reads right.

    Cue identifiers (lines before the timing line) are dropped, which pysubs2 would glue onto
    the previous cue, and a timing line inside a block starts a new cue, as in browsers.
    """
    keep = []
    for block in _blocks(text):
        at = next((i for i, (_, ln) in enumerate(block) if "-->" in ln), 0)
        cue: list[str] = []
        for _, ln in block[at:]:
            if "-->" in ln and cue:
                keep.append("\n".join(cue))
                cue = []
            cue.append(ln)
        keep.append("\n".join(cue))
    return "\n\n".join(keep) + "\n"


def check_timed_text(text: str, fmt: str) -> str | None:
    """The first problem in an SRT ('srt'), WebVTT ('vtt') or SBV ('sbv') text, or None."""
    timing = _SBV if fmt == "sbv" else _ARROW
    for i, block in enumerate(_blocks(text)):
        first = block[0][1].strip()
        if fmt == "vtt" and (first.split(" ")[0] in _VTT_BLOCKS or (i == 0 and first.startswith("WEBVTT"))):
            continue
        stamps = [(n, ln) for n, ln in block if ("-->" in ln if fmt != "sbv" else _looks_sbv(ln))]
        if len(stamps) > 1 and fmt != "vtt":  # WebVTT: a timing line starts a new cue
            return f"a second timestamp {stamps[1][1].strip()!r} inside the cue on line {stamps[0][0]}"
        for n, ln in stamps:
            found = timing.match(ln)
            if not found:
                return f"bad timestamp {ln.strip()!r} on line {n}"
            if _ms(found["b"]) < _ms(found["a"]):
                return f"the cue on line {n} ends before it starts ({ln.strip()!r})"
        if not stamps and first:
            if fmt == "vtt" and i == 0:
                continue
            if len(block) == 1 and first.isdigit():
                continue  # a lone cue number
            return f"text {first[:40]!r} on line {block[0][0]} has no timestamp"
    return None


def _looks_sbv(line: str) -> bool:
    return bool(re.match(r"^\s*\d+:\d", line)) and "," in line
