"""Check every market's translation route before any heavy work starts.

A run that cannot translate must say so in a second or two, not after speech recognition. For each
market without a human translation this builds the route the translation stage will take (which also
checks that each backend runs here and that a pinned model file matches its sha256). Where only
the source language decides (no backend covers every pair), the language is heard from the first 30 s
of speech by the recognizer's language detection: one encoder pass, no decoding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from localize.core.errors import NoRouteError
from localize.core.markets import Market
from localize.core.options import RunOptions
from localize.stages.translate.stage import plan_market, preferences

log = logging.getLogger(__name__)
ANY_LANGUAGE = "und"  # a language no backend names: only a backend that covers every pair takes it


def check_routes(path: Path, markets: Sequence[Market], options: RunOptions) -> str | None:
    """Raise NoRouteError (or the backend's own error) for a market that cannot be translated from this
    source; returns the source language when it had to be detected (else None)."""
    human = {tag.lower() for tag, _ in options.translations}
    todo = [m for m in markets if m.tag.lower() not in human]
    if not todo:
        return None
    language = options.asr.language
    undecided = []
    for market in todo:
        prefs = preferences(market, options)
        if language:
            _plan(path, market, language, prefs)
            continue
        try:
            plan_market(market, ANY_LANGUAGE, prefs)  # a backend that takes any pair: every source works
        except NoRouteError:
            undecided.append((market, prefs))
    if not undecided:
        return None
    detected = _detect(path, options)
    if detected is None:
        return None
    for market, prefs in undecided:
        if detected != market.language:
            _plan(path, market, detected, prefs)
    return detected


def _plan(path: Path, market: Market, language: str, prefs: tuple[str, ...]) -> None:
    try:
        plan_market(market, language, prefs)
    except NoRouteError as exc:
        raise NoRouteError(exc.source, exc.target, exc.tried, market=market.tag, path=path) from None


def _detect(path: Path, options: RunOptions) -> str | None:
    if options.source_subs is not None:
        return None  # the script comes from a subtitle file: its language is read later
    from localize.stages.script.asr import RECOGNIZERS

    recognizer = RECOGNIZERS.create(options.asr_backend, options=options.asr)
    detect = getattr(recognizer, "detect_language", None)
    if detect is None:
        log.info("%s cannot detect a language alone; routes are checked when translation starts",
                 options.asr_backend)
        return None
    try:
        language, probability = detect(path)
    finally:
        recognizer.release()
    log.info("%s: source language %s (p=%.2f) heard before the run, to check translation routes", path.name,
             language, probability)
    return str(language)
