"""Timed-text practice for subtitle lines: rows, cues and reading speed.

A line goes on screen in at most two balanced rows, each of at most the market's characters (and,
when the subtitles are burned in, no wider than the picture's safe area at the font size). A line
too long for that is split into consecutive cues, each timed by its words when the line has word
timings, else by its share of the line's characters, none shorter than `min_cue_ms` where the line
is long enough. A line that needs more time than it has at the market's reading speed is extended
into the silence before the next line; what is still too fast is reported.

    laid = layout_cues(cues, LayoutRules(max_chars=42, reading_cps=17.0), end_ms=duration_ms)
    laid.cues    # one Cue per piece, its rows joined with "\\n", in time order
    laid.lines   # one LineLayout per input cue: pieces, the span shown, extension, reading speed

Rows break at spaces in scripts that have them. Chinese, Japanese and Thai break between any two
characters, but never between a letter and its combining marks, before closing punctuation, after
opening punctuation, or inside a run of Latin letters or digits. All times are integer milliseconds.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from localize.core.errors import ConfigError
from localize.stages.render.fonts import text_script, text_width

if TYPE_CHECKING:
    from localize.core.artifacts import Word
    from localize.stages.render.subtitles import Cue

# Bump when the layout of the same cues changes (renders key on it).

_CLOSING = frozenset("，。、！？；：…‥」』）》〉】〕］｝”’,.!?;:)]}%»›ฯๆ")  # never starts a row or a cue
_OPENING = frozenset("（「『《〈【〔［｛“‘([{«‹")  # never ends one
_SENTENCE_END = frozenset(".!?…。！？")
_CLAUSE_END = frozenset(",;:，、；：—–")
_UNSPACED = ("cjk", "japanese", "thai")


def visible_len(text: str) -> int:
    """Characters a reader sees: combining marks (Thai vowels and tones, accents) do not count."""
    return sum(unicodedata.category(ch) not in ("Mn", "Me") for ch in text)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutRules:
    max_chars: int = 42  # characters per row (combining marks not counted)
    max_rows: int = 2
    row_width: float = 0.0  # the widest row in units of the font size (render.fonts.text_width); 0: no limit
    reading_cps: float = 17.0  # characters per second (spaces and punctuation counted, as in the report)
    min_cue_ms: int = 800  # no cue shorter, where the line is long enough
    gap_ms: int = 80  # left before the next line when a line is extended for its reading speed

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ConfigError(f"subtitles.max_chars_per_line must be 1 or more, not {self.max_chars}.")
        if self.max_rows not in (1, 2):
            raise ConfigError(f"subtitle rows must be 1 or 2, not {self.max_rows}.")
        if self.reading_cps <= 0:
            raise ConfigError(f"style.reading_speed_cps must be positive, not {self.reading_cps}.")

    def fits(self, row: str) -> bool:
        return visible_len(row) <= self.max_chars and (not self.row_width or text_width(row) <= self.row_width)

    def size(self, row: str) -> float:
        """What balancing compares: the row's width when there is a width limit, else its characters."""
        return text_width(row) if self.row_width else visible_len(row)

    def cache_options(self) -> dict[str, object]:
        return {"max_chars": self.max_chars, "max_rows": self.max_rows,
                "row_width": round(self.row_width, 3), "reading_cps": self.reading_cps,
                "min_cue_ms": self.min_cue_ms, "gap_ms": self.gap_ms}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineLayout:
    """How one input line went on screen."""

    id: str
    index: int  # its position in the input
    pieces: int  # the cues it became
    start_ms: int
    end_ms: int  # when its last cue leaves the screen
    line_end_ms: int  # the line's own end
    extended_ms: int  # shown this long past its end, in the gap before the next line, for reading speed
    trimmed_ms: int  # cut this much short where the next line starts (overlapping speech)
    reading_cps: float  # its characters per second over [start_ms, end_ms]
    too_fast: bool  # still above the rules' reading speed
    rows: int  # the most rows one of its cues has
    row_chars: int  # its longest row, in characters


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    cues: tuple[Cue, ...]
    lines: tuple[LineLayout, ...]
    rules: LayoutRules


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutReport:
    """What a render writes beside its subtitles (``layout.json``): the rules and each line's layout."""

    rules: LayoutRules
    lines: tuple[LineLayout, ...]


# --- units and rows ---------------------------------------------------------------------------------


def _spaced(text: str) -> bool:
    return text_script(text) not in _UNSPACED and " " in text.strip()


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _clusters(text: str) -> list[str]:
    """Characters with their combining marks attached (a Thai consonant with its vowel and tone)."""
    out: list[str] = []
    for ch in text:
        if out and unicodedata.category(ch) in ("Mn", "Me", "Mc"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _units(text: str, rules: LayoutRules, *, cut_long: bool = True) -> tuple[list[str], str]:
    """The text's unbreakable units and what joins them: words and " ", or characters and "".
    `cut_long`: a word wider than a row is cut into pieces that fit."""
    text = " ".join(text.split())
    if not _spaced(text):
        if text_script(text) != "thai":  # Chinese and Japanese: a space only between Latin words or numbers
            text = "".join(ch for i, ch in enumerate(text)
                           if ch != " " or (_latin(text[i - 1]) and _latin(text[i + 1])))
        return _clusters(text), ""
    units: list[str] = []
    for word in text.split(" "):
        if not cut_long or rules.fits(word):
            units.append(word)
            continue
        piece = ""  # a word wider than a row (a URL): cut where the row is full
        for cluster in _clusters(word):
            if piece and not rules.fits(piece + cluster):
                units.append(piece)
                piece = ""
            piece += cluster
        units.append(piece)
    return units, " "


def _breakable(units: Sequence[str], k: int, joiner: str) -> bool:
    """Whether a row or cue may end between units[k - 1] and units[k]."""
    before, after = units[k - 1], units[k]
    if joiner:
        return True
    if after[0] in _CLOSING or before[-1] in _OPENING:
        return False
    return not (_latin(before[-1]) and _latin(after[0]))


def _join(units: Sequence[str], joiner: str) -> str:
    return joiner.join(units).strip()


def _after_bonus(unit: str, joiner: str) -> float:
    """How good a place to break the end of `unit` is: after a sentence, a clause, or a space in unspaced text."""
    end = unit.rstrip()
    if end and end[-1] in _SENTENCE_END:
        return 0.5
    if end and end[-1] in _CLAUSE_END:
        return 0.25
    return 0.15 if not joiner and unit.endswith(" ") else 0.0


def _rows(units: Sequence[str], joiner: str, rules: LayoutRules, *, strict: bool) -> tuple[str, ...] | None:
    text = _join(units, joiner)
    if rules.fits(text) or len(units) < 2 or rules.max_rows == 1:
        return (text,) if rules.fits(text) or not strict else None
    for any_break in (False, True):  # a single long word: between any two letters
        best: tuple[tuple[float, float], tuple[str, str]] | None = None
        for k in range(1, len(units)):
            if not any_break and not _breakable(units, k, joiner):
                continue
            top, bottom = _join(units[:k], joiner), _join(units[k:], joiner)
            if not top or not bottom:
                continue
            ok = rules.fits(top) and rules.fits(bottom)
            if strict and not ok:
                continue
            a, b = rules.size(top), rules.size(bottom)
            # Balanced rows; a break after punctuation is worth a little imbalance; a longer top row
            # (the narrow end of the pyramid at the bottom) costs a little.
            cost = abs(a - b) / (a + b) - 0.5 * _after_bonus(units[k - 1], joiner) + (0.02 if a > b else 0.0)
            score = (0.0 if ok else max(a, b), cost)
            if best is None or score < best[0]:
                best = (score, (top, bottom))
        if best is not None:
            return best[1]
    return None if strict else (text,)


def break_rows(text: str, rules: LayoutRules, *, strict: bool = True) -> tuple[str, ...] | None:
    """`text` in at most `rules.max_rows` balanced rows that each fit; None when it does not fit
    (`strict=False`: the best rows anyway, the longest as short as it can be)."""
    units, joiner = _units(text, rules, cut_long=strict)
    if not units:
        return ("",)
    return _rows(units, joiner, rules, strict=strict)


# --- pieces -------------------------------------------------------------------------------------------


def _segment(units: Sequence[str], joiner: str, rules: LayoutRules, *, any_break: bool) -> list[tuple[str, ...]] | None:
    """The fewest pieces (each fitting in rows), balanced, preferring breaks after punctuation."""
    n = len(units)
    longest = rules.max_rows * rules.max_chars
    cuts = [k for k in range(1, n) if any_break or _breakable(units, k, joiner)]
    bounds = [0, *cuts, n]
    fitting: dict[tuple[int, int], tuple[str, ...]] = {}
    for bi, i in enumerate(bounds):
        for j in bounds[bi + 1:]:
            if visible_len(_join(units[i:j], joiner)) > longest:
                break
            rows = _rows(units[i:j], joiner, rules, strict=True)
            if rows is not None:
                fitting[(i, j)] = rows
    # Fewest pieces first.
    fewest: dict[int, int] = {0: 0}
    for j in bounds[1:]:
        counts = [fewest[i] + 1 for i in bounds if (i, j) in fitting and i in fewest]
        if counts:
            fewest[j] = min(counts)
    if n not in fewest:
        return None
    count = fewest[n]
    average = rules.size(_join(units, joiner)) / count
    # Then the most balanced split into that many, breaking after punctuation where it can.
    best: dict[tuple[int, int], tuple[float, int]] = {(0, 0): (0.0, -1)}
    for c in range(1, count + 1):
        for j in bounds[1:]:
            options = []
            for i in bounds:
                if (i, j) not in fitting or (i, c - 1) not in best:
                    continue
                size = rules.size(_join(units[i:j], joiner))
                cost = best[(i, c - 1)][0] + ((size - average) / max(average, 1e-9)) ** 2
                if j < n:
                    cost -= _after_bonus(units[j - 1], joiner)
                options.append((cost, i))
            if options:
                best[(j, c)] = min(options)
    pieces, j = [], n
    for c in range(count, 0, -1):
        i = best[(j, c)][1]
        pieces.append(fitting[(i, j)])
        j = i
    return pieces[::-1]


def split_line(text: str, rules: LayoutRules) -> tuple[tuple[str, ...], ...]:
    """`text` as consecutive pieces, each a tuple of rows that fit the rules."""
    units, joiner = _units(text, rules)
    if not units:
        return ()
    pieces = _segment(units, joiner, rules, any_break=False) or _segment(units, joiner, rules, any_break=True)
    if pieces is None:  # a unit wider than a row even alone (a row width under one CJK character)
        return tuple((u,) for u in units)
    return tuple(pieces)


# --- timing -------------------------------------------------------------------------------------------


def _compact(text: str) -> str:
    return "".join(text.split())


def _word_boundaries(pieces: Sequence[str], start_ms: int, end_ms: int, words: Sequence[Word]) -> list[float] | None:
    """Where each piece after the first starts, from the words' times; None when the words are not this text."""
    if not words or "".join(_compact(w.text) for w in words) != "".join(_compact(p) for p in pieces):
        return None
    offsets, at = [], 0  # each word's first character in the compact text
    for w in words:
        offsets.append(at)
        at += len(_compact(w.text))
    times, at = [], 0
    for piece in pieces[:-1]:
        at += len(_compact(piece))
        k = max(i for i, o in enumerate(offsets) if o <= at)
        w, length = words[k], max(len(_compact(words[k].text)), 1)
        times.append(w.start_ms + (at - offsets[k]) / length * (w.end_ms - w.start_ms))
    return [min(max(t, start_ms), end_ms) for t in times]


def _at_least(durations: list[float], weights: list[float], span: int, minimum: int) -> list[float]:
    """The durations with none under `minimum` where the span allows, the rest shared by weight."""
    n = len(durations)
    if span < n * minimum:
        return [span / n] * n
    fixed: set[int] = set()
    while True:
        short = {i for i, d in enumerate(durations) if i not in fixed and d < minimum - 1e-6}
        if not short:
            return durations
        fixed |= short
        free = [i for i in range(n) if i not in fixed]
        left = span - minimum * len(fixed)
        total = sum(weights[i] for i in free) or len(free)
        durations = [minimum if i in fixed else left * (weights[i] or 1) / total for i in range(n)]


def time_pieces(pieces: Sequence[str], start_ms: int, end_ms: int, *, words: Sequence[Word] = (),
                min_cue_ms: int = 800) -> tuple[tuple[int, int], ...]:
    """Consecutive (start, end) of each piece inside [start_ms, end_ms]: where the words put them, else by
    each piece's share of the characters; none shorter than `min_cue_ms` where the span allows."""
    n = len(pieces)
    if n == 0:
        return ()
    span = max(end_ms - start_ms, 0)
    weights = [float(max(len(_compact(p)), 1)) for p in pieces]
    cut = _word_boundaries(pieces, start_ms, end_ms, words)
    if cut is None:
        total, acc, cut = sum(weights), 0.0, []
        for w in weights[:-1]:
            acc += w
            cut.append(start_ms + span * acc / total)
    edges = [float(start_ms), *cut, float(end_ms)]
    durations = _at_least([b - a for a, b in itertools.pairwise(edges)], weights, span, min_cue_ms)
    times, at = [], float(start_ms)
    for d in durations:
        times.append(round(at))
        at += d
    times.append(end_ms)
    times = [min(max(t, start_ms), end_ms) for t in times]
    for i in range(1, len(times)):  # monotonic after rounding
        times[i] = max(times[i], times[i - 1])
    return tuple(itertools.pairwise(times))


# --- lines ---------------------------------------------------------------------------------------------


def layout_cues(cues: Sequence[Cue], rules: LayoutRules, *, end_ms: int = 0) -> Layout:
    """Each cue laid out by the rules (see the module's doc). `end_ms`: the video's end, how far the last
    line may be extended; 0: it is not extended."""
    order = sorted(range(len(cues)), key=lambda i: (cues[i].start_ms, i))
    out: list[Cue] = []
    lines: list[LineLayout] = []
    for pos, index in enumerate(order):
        cue = cues[index]
        start, end = cue.start_ms, cue.end_ms
        later = [cues[k].start_ms for k in order[pos + 1:] if cues[k].start_ms > start]
        next_start = later[0] if later else None
        trimmed = 0
        if next_start is not None and next_start < end:  # overlapping speech: one line on screen at a time
            trimmed, end = end - next_start, next_start
        limit = next_start - rules.gap_ms if next_start is not None else end_ms - rules.gap_ms
        chars = len(cue.text.replace("\n", " "))
        needed = math.ceil(chars * 1000 / rules.reading_cps)
        shown_end = end
        if end - start < needed and limit > end:
            shown_end = min(start + needed, limit)
        pieces = split_line(cue.text.replace("\n", " "), rules)
        if not pieces:
            continue
        texts = [" ".join(p) for p in pieces]
        if _word_boundaries(texts, start, end, cue.words) is not None:  # timed by its words; the extension
            times = time_pieces(texts, start, end, words=cue.words, min_cue_ms=rules.min_cue_ms)  # goes last
            times = (*times[:-1], (times[-1][0], shown_end))
        else:
            times = time_pieces(texts, start, shown_end, min_cue_ms=rules.min_cue_ms)
        for (a, b), rows in zip(times, pieces, strict=True):
            out.append(replace(cue, start_ms=a, end_ms=b, text="\n".join(rows), words=()))
        shown = max(shown_end - start, 1)
        cps = round(chars * 1000 / shown, 1)
        lines.append(LineLayout(
            id=cue.id, index=index, pieces=len(pieces), start_ms=start, end_ms=shown_end, line_end_ms=cue.end_ms,
            extended_ms=shown_end - end, trimmed_ms=trimmed, reading_cps=cps, too_fast=cps > rules.reading_cps,
            rows=max(len(p) for p in pieces), row_chars=max(visible_len(r) for p in pieces for r in p)))
    return Layout(cues=tuple(out), lines=tuple(lines), rules=rules)


__all__ = ["Layout", "LayoutReport", "LayoutRules", "LineLayout", "break_rows", "layout_cues",
           "split_line", "time_pieces", "visible_len"]
