"""Cut recognized words into lines for dubbing and subtitles.

Rules, in order: a line ends after a sentence-ending mark (so short
exclamations stay their own lines and three sentences said in one breath
become three lines), at a pause of `pause_ms` or more, and before it would
pass `max_ms` or `max_chars`. Lines never split inside a word: the unit is a
word as the recognizer timed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from localize.core.artifacts import Line, Word
from localize.stages.script.asr import RawWord

SENTENCE_END = tuple(".?!。？！…")
_TRAILING = "\"')]}»”’」』"


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRules:
    pause_ms: int = 350
    max_ms: int = 6000
    max_chars: int = 84

    @classmethod
    def for_language(cls, language: str) -> LineRules:
        # Chinese and Japanese pack more meaning per character.
        if language in {"zh", "ja", "ko"}:
            return cls(max_chars=32)
        return cls()


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip(_TRAILING).endswith(SENTENCE_END)


def _join(words: Sequence[RawWord]) -> str:
    return "".join(w.text for w in words).strip()


def cut_lines(segments: Iterable[Sequence[RawWord]], rules: LineRules, speaker: str = "SPEAKER_00") -> tuple[Line, ...]:
    groups: list[list[RawWord]] = []
    for segment in segments:
        current: list[RawWord] = []
        for word in segment:
            if not word.text.strip():
                continue
            if current:
                gap = word.start_ms - current[-1].end_ms
                too_long = word.end_ms - current[0].start_ms > rules.max_ms
                too_wide = len(_join([*current, word])) > rules.max_chars
                if gap >= rules.pause_ms or too_long or too_wide:
                    groups.append(current)
                    current = []
            current.append(word)
            if _ends_sentence(word.text):
                groups.append(current)
                current = []
        if current:
            groups.append(current)
    lines = []
    for i, group in enumerate(groups, start=1):
        words = tuple(
            Word(start_ms=w.start_ms, end_ms=max(w.end_ms, w.start_ms), text=w.text.strip(),
                 probability=round(w.probability, 4))
            for w in group
        )
        confidence = sum(w.probability for w in group) / len(group)
        lines.append(
            Line(
                id=f"L{i:03d}",
                start_ms=group[0].start_ms,
                end_ms=max(group[-1].end_ms, group[0].start_ms + 1),
                text=_join(group),
                speaker=speaker,
                words=words,
                origin="asr",
                confidence=round(confidence, 4),
            )
        )
    return tuple(lines)
