"""Fuse the speech recognizer's lines with the burned-in subtitles read by OCR.

Burned-in subtitles are the edited script of the episode: their text is
usually better than ASR (names, homophones), and their cuts are a human's.
Speech timing, though, is better from ASR words: subtitles linger on screen
after the voice stops. The rules:

1. Each ASR word goes to the OCR cue whose time window (widened by
   `slack_ms`) holds the word's midpoint; a word no cue holds stays ASR-only.
2. A cue with words: its line takes the cue's text and the words' timing; a word
   the speech has at either end of the line and the OCR missed is put back.
   When the two texts agree (character similarity >= `agree`), origin is
   ``fused``. When they disagree, the OCR text still wins if the OCR was
   confident (>= `trust_ocr`), origin ``ocr``; otherwise the ASR words' text
   is kept, origin ``asr``.
2b. Times: the line spans its words (their times refined on the audio's voice activity). When the
   texts agree (``fused``), a cue edge within `CUE_SNAP_MS` of the words' edge replaces it: burned-in
   cues are timed by an editor on the picture (OCR places them within ~50 ms), closer to the voice than
   word times; an edge further off is a cue that lingers or leads, and the speech's edge stays.
   Overlapped speech: when the line's first word follows the previous word with no pause (gap under
   `CONTINUOUS_GAP_MS`: one speaker starts while another is still talking, so voice activity sees one
   region and nothing moved the word to the voice's onset), an agreeing cue's start within
   `CUE_OVERLAP_MS` of the words' is taken. Only the start: the cue before an overlapping line is cut
   where the next one starts, so a cue's end there is not the voice's.
3. A cue with no words (nobody speaking: a sign, a caption, or speech the
   VAD missed) becomes an ``ocr`` line timed by the cue.
4. Words left over become lines as the ASR cut them, origin ``asr``.
Lines are then sorted by start and renumbered L001, L002...
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

from localize.core.artifacts import Line, OcrCue, Word
from localize.core.options import FusionRules

# FusionRules lives in localize.core.options (imported above).
_DEFAULT_RULES = FusionRules()  # frozen: one shared default is safe


def _plain(text: str) -> str:
    """Letters and digits only, case-folded: what two readings of one line share."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold()
                   if unicodedata.category(ch)[0] in "LN")


def similarity(a: str, b: str) -> float:
    pa, pb = _plain(a), _plain(b)
    if not pa or not pb:
        return 0.0
    return difflib.SequenceMatcher(None, pa, pb, autojunk=False).ratio()


def _join(words: Sequence[Word], spaced: bool) -> str:
    return (" " if spaced else "").join(w.text for w in words).strip()


# OCR drops the space after closing punctuation: 'Bible"of' -> 'Bible" of' (not "1,455").
_GLUED = re.compile(r"(?<=[^\W\d_])([\"”’),.!?;:])(?=[^\W\d_])")


def _mend_edges(read: str, words: Sequence[Word], spaced: bool) -> str:
    """The OCR text, with words the speech has at either end and the OCR missed put back.

    OCR detection tends to lose a short word at a line's edge ("or", "啊"); inside the line the
    OCR's reading wins (names, numbers, homophones are where it beats ASR). A lost edge word next
    to a word the two read differently ("or 42" / "forty-two") is not recovered.
    """
    if spaced:
        read = _GLUED.sub(r"\1 ", read)
    heard = [w.text for w in words] if spaced else list("".join(w.text for w in words))
    seen = read.split() if spaced else list(read)
    ops = difflib.SequenceMatcher(None, [_plain(t) for t in heard], [_plain(t) for t in seen],
                                  autojunk=False).get_opcodes()
    if not ops:
        return read
    head = heard[: ops[0][2]] if ops[0][0] == "delete" else []
    tail = heard[ops[-1][1]:] if ops[-1][0] == "delete" and len(ops) > 1 else []
    glue = " " if spaced else ""
    return glue.join([*head, read, *tail]) if head or tail else read


# A cue's on/off time is taken for its line when the cue agrees with the speech on the text and its edge
# is within this of the speech's edge (the words as refined on voice activity).
CUE_SNAP_MS = 150
# ...and within this when the speech runs on across the line's start (overlapped speakers): no gap of
# CONTINUOUS_GAP_MS (the VAD's shortest pause, RefineRules.min_pause_ms) before its first word. Set on two
# ../shared/media Mandarin recordings overlapped by 200-500 ms (bench/bench_overlap_timing.py), not episode B.
CUE_OVERLAP_MS = 600
CONTINUOUS_GAP_MS = 200


def _times(cue: OcrCue, words: Sequence[Word], agree: bool, heard_until: int | None = None) -> tuple[int, int]:
    """The line's (start, end): the words' edges, each replaced by the cue's when the texts agree and
    the two are within CUE_SNAP_MS, or for the start within CUE_OVERLAP_MS when the speech before
    (the previous word heard ends at `heard_until`) runs into this line with no pause (rule 2b)."""
    start, end = words[0].start_ms, max(words[-1].end_ms, words[0].start_ms + 1)
    continuous = heard_until is not None and heard_until > start - CONTINUOUS_GAP_MS
    if agree and abs(cue.start_ms - start) <= (CUE_OVERLAP_MS if continuous else CUE_SNAP_MS):
        start = cue.start_ms
    if agree and abs(cue.end_ms - end) <= CUE_SNAP_MS:
        end = cue.end_ms
    return start, max(end, start + 1)


def _heard_until(asr_lines: Sequence[Line], words: Sequence[Word]) -> int | None:
    """Where the speech heard before the first of `words` ends: the latest end among the words (of
    any line) that start before it and are not among `words`; None when nothing is heard before."""
    first, mine = words[0].start_ms, {id(w) for w in words}
    ends = [w.end_ms for line in asr_lines for w in line.words if w.start_ms < first and id(w) not in mine]
    return max(ends, default=None)


def fuse(asr_lines: Sequence[Line], cues: Sequence[OcrCue], language: str,
         rules: FusionRules = _DEFAULT_RULES) -> tuple[Line, ...]:
    spaced = language not in {"zh", "ja", "th", "lo", "km", "my"}
    cues = sorted(cues, key=lambda c: c.start_ms)
    taken: dict[int, list[Word]] = {i: [] for i in range(len(cues))}
    leftovers: list[tuple[Line, list[Word]]] = []
    for line in asr_lines:
        rest: list[Word] = []
        for word in line.words:
            mid = (word.start_ms + word.end_ms) // 2
            home = next((i for i, c in enumerate(cues)
                         if c.start_ms - rules.slack_ms <= mid < c.end_ms + rules.slack_ms), None)
            (taken[home] if home is not None else rest).append(word)
        if rest:
            leftovers.append((line, rest))

    fused: list[Line] = []
    for i, cue in enumerate(cues):
        words = taken[i]
        if not words:
            fused.append(Line(id="", start_ms=cue.start_ms, end_ms=cue.end_ms, text=cue.text, origin="ocr",
                              confidence=round(cue.confidence, 4)))
            continue
        heard = _join(words, spaced)
        sim = similarity(cue.text, heard)
        if sim >= rules.agree:
            text, origin, conf = _mend_edges(cue.text, words, spaced), "fused", (cue.confidence + sim) / 2
        elif cue.confidence >= rules.trust_ocr:
            text, origin, conf = cue.text, "ocr", cue.confidence * (0.5 + sim / 2)
        else:
            text, origin, conf = heard, "asr", sum(w.probability for w in words) / len(words) * (0.5 + sim / 2)
        start, end = _times(cue, words, origin == "fused", _heard_until(asr_lines, words))
        fused.append(Line(id="", start_ms=start, end_ms=end,
                          text=text, words=tuple(words), origin=origin, confidence=round(conf, 4)))
    for line, words in leftovers:
        whole = len(words) == len(line.words)
        fused.append(Line(id="", start_ms=words[0].start_ms, end_ms=words[-1].end_ms,
                          text=line.text if whole else _join(words, spaced), speaker=line.speaker,
                          words=tuple(words), origin="asr", confidence=line.confidence))
    fused.sort(key=lambda ln: (ln.start_ms, ln.end_ms))
    return tuple(
        Line(id=f"L{n:03d}", start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, speaker=ln.speaker,
             words=ln.words, origin=ln.origin, confidence=ln.confidence)
        for n, ln in enumerate(fused, start=1)
    )
