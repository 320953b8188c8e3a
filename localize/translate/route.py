"""Plan and run a translation route: direct, or two legs through English."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ..artifacts import Line, TargetLine
from ..errors import LocalizeError, NoRouteError
from . import TRANSLATORS, Translator
from .openai_backend import ANY_PAIR

log = logging.getLogger(__name__)
PIVOT = "en"


@dataclass(frozen=True, slots=True)
class Leg:
    backend: str
    source: str
    target: str
    translator: Translator
    version: str

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.source}-{self.target}"


def _covers(pairs: frozenset[tuple[str, str]], source: str, target: str) -> bool:
    return (source, target) in pairs or ANY_PAIR in pairs


def plan_route(source: str, target: str, preferences: Sequence[str]) -> tuple[Leg, ...]:
    """The legs that take `source` to `target`; () when they are the same language."""
    if source == target:
        return ()
    usable: list[tuple[str, Translator, frozenset[tuple[str, str]]]] = []
    tried = []
    for name in preferences:
        translator = TRANSLATORS.create(name)  # unknown name -> UnknownNameError
        try:
            pairs = translator.pairs()
        except LocalizeError as exc:
            log.info("translation backend %s unusable here: %s", name, exc)
            tried.append(f"{name} (unusable: {exc})".rstrip("."))
            continue
        tried.append(name)
        usable.append((name, translator, pairs))

    def leg(src: str, tgt: str) -> Leg | None:
        for name, translator, pairs in usable:
            if _covers(pairs, src, tgt):
                return Leg(name, src, tgt, translator, translator.model_version())
        return None

    direct = leg(source, target)
    if direct is not None:
        return (direct,)
    if PIVOT not in (source, target):
        first, second = leg(source, PIVOT), leg(PIVOT, target)
        if first is not None and second is not None:
            return (first, second)
    raise NoRouteError(source, target, tried)


def translate_lines(lines: Sequence[Line], route: Sequence[Leg]) -> tuple[TargetLine, ...]:
    texts = [line.text for line in lines]
    for step in route:
        texts = step.translator.translate(texts, step.source, step.target)
    labels = tuple(step.label for step in route) or ("copy",)
    return tuple(
        TargetLine(id=line.id, source_text=line.text, text=text, route=labels,
                   flags=() if text.strip() else ("empty-translation",))
        for line, text in zip(lines, texts, strict=True)
    )
