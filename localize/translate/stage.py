"""The translation stage for one market: human subtitles, an LLM adapter, or a machine route.

The market's backends are tried in order. An adapter (an LLM: ``openai``, ``llm``) gets whole
batches with the series bible, context and length budgets, rewrites over-long lines shorter,
and falls back to the machine route of the remaining backends for a batch it cannot answer.
A machine route (Bergamot, Apertium, Marian...) translates line by line, pivoting through
English where needed. Either way every line carries its budget, and lines over it are flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import jsonio
from ..artifacts import Line, Script, TargetLine, Translation
from ..bible import Bible, load_bible
from ..cache import ArtifactStore, file_sha256, stage_key
from ..errors import LocalizeError, NoRouteError
from ..markets import Market
from ..options import RunOptions
from ..tm import Match, open_tm
from . import TRANSLATORS
from .adapting import adapt_lines, budgets, over_budget
from .route import Leg, plan_route, translate_lines
from .subtitles import align_human_translation

log = logging.getLogger(__name__)


def preferences(market: Market, options: RunOptions) -> tuple[str, ...]:
    prefs = (options.translate_backend,) if options.translate_backend else market.translation
    for name in prefs:
        TRANSLATORS.load(name)  # an unknown name fails before any work
    return prefs


def _is_adapter(name: str) -> bool:
    return hasattr(TRANSLATORS.load(name), "adapt")


def _first_adapter(prefs: Sequence[str]) -> tuple[object | None, tuple[str, ...]]:
    """The adapter to use (the first preference that is an adapter and runs here, if no plain
    backend before it runs) and the preferences left for the machine route."""
    for i, name in enumerate(prefs):
        if not _is_adapter(name):
            continue
        adapter = TRANSLATORS.create(name)
        try:
            adapter.available()
        except LocalizeError as exc:
            log.info("adapter %s unusable here: %s", name, exc)
            continue
        rest = tuple(p for p in prefs if p != name)
        return adapter, rest
    return None, tuple(prefs)


def translate_market(
    market: Market, script_key: str, script: Script, store: ArtifactStore, options: RunOptions
) -> tuple[str, Translation]:
    human = {tag.lower(): Path(p) for tag, p in options.translations}.get(market.tag.lower())
    prefs = preferences(market, options)
    human_lines = align_human_translation(script.lines, human) if human else ()
    need_machine = not human or any(t is None for t in human_lines)
    bible = load_bible(options.bible_file) if options.bible_file else Bible()
    hits = _memory_hits(script, market, options) if not human else {}
    adapter, rest = (None, prefs)
    if need_machine and script.language != market.language:
        adapter, rest = _first_adapter(prefs)
    route: tuple[Leg, ...] = ()
    if need_machine:
        try:
            route = plan_route(script.language, market.language, rest)
        except NoRouteError:
            if adapter is None:
                raise
            log.info("no machine fallback for %s->%s: adapter failures will stop the run",
                     script.language, market.language)
    key = stage_key(
        "translation", inputs=[script_key, file_sha256(human) if human else ""],
        backend="+".join([*([adapter.name] if adapter else []), *(leg.label for leg in route)]),
        model_version="|".join([*([adapter.model_version()] if adapter else []), *(leg.version for leg in route)]),
        options={"source": script.language, "target": market.language, "style": jsonio.to_dict(market.style),
                 "bible": bible.digest(market.language),
                 "adapt": jsonio.to_dict(options.adapt) if adapter else None,
                 "memory": {script.lines[i].id: [m.target, m.similarity] for i, m in sorted(hits.items())}},
    )

    def build(tmp: Path) -> None:
        pending = [ln for i, ln in enumerate(script.lines) if i not in hits]
        fresh, first, final = _translate(pending, script.language, market, route, adapter, bible, options,
                                         need_machine) if pending else ((), 0, 0)
        lines = _merge(script.lines, hits, fresh, market, options)
        remembered = sum(not over_budget(lines[i].text, lines[i].budget_chars, options.adapt) for i in hits)
        first, final = first + remembered, final + remembered
        if human:  # human text where a cue covers the line, flagged machine text elsewhere
            lines = tuple(replace(h, budget_chars=m.budget_chars) if h is not None
                          else replace(m, flags=(*m.flags, "no-human-cue"))
                          for h, m in zip(human_lines, lines, strict=True))
            first = final = sum(not over_budget(t.text, t.budget_chars, options.adapt) for t in lines)
        jsonio.save(Translation(source_language=script.language, target_language=market.language, lines=lines,
                                within_budget_first=first, within_budget_final=final), tmp / "translation.json")

    return key, store.cached("translation", key, build, lambda p: jsonio.load(Translation, p / "translation.json"))


def _memory_hits(script: Script, market: Market, options: RunOptions) -> dict[int, Match]:
    if options.tm_file is None or script.language == market.language:
        return {}
    with open_tm(options.tm_file) as tm:
        found = {i: tm.lookup(ln.text, script.language, market.language, threshold=options.tm_threshold)
                 for i, ln in enumerate(script.lines)}
    hits = {i: m for i, m in found.items() if m is not None}
    if hits:
        log.info("%s: %d of %d lines from the translation memory", market.tag, len(hits), len(script.lines))
    return hits


def _merge(lines: Sequence[Line], hits: dict[int, Match], fresh: Sequence[TargetLine], market: Market,
           options: RunOptions) -> tuple[TargetLine, ...]:
    """Remembered lines in their places, freshly translated ones in order around them."""
    limit = budgets(lines, market)
    rest = iter(fresh)
    out = []
    for i, ln in enumerate(lines):
        if i not in hits:
            out.append(next(rest))
            continue
        m = hits[i]
        flags = ["tm" if m.similarity == 1.0 else f"tm:{m.similarity:.2f}"]
        if over_budget(m.target, limit[i], options.adapt):
            flags.append("over-budget")
        out.append(TargetLine(id=ln.id, source_text=ln.text, text=m.target, route=("tm",), flags=tuple(flags),
                              budget_chars=limit[i]))
    return tuple(out)


def _translate(lines: Sequence[Line], source: str, market: Market, route: tuple[Leg, ...], adapter: object | None,
               bible: Bible, options: RunOptions, need_machine: bool) -> tuple[tuple[TargetLine, ...], int, int]:
    limit = budgets(lines, market)
    if adapter is not None:
        fallback = (lambda batch: translate_lines(batch, route)) if route or source == market.language else None
        return adapt_lines(adapter, lines, source=source, market=market, bible=bible, options=options.adapt,
                           fallback=fallback)
    machine = translate_lines(lines, route) if need_machine else tuple(
        TargetLine(id=ln.id, source_text=ln.text, text="", route=()) for ln in lines)
    glossary = bible.glossary_for(market.language)
    from .adapt import glossary_flags

    out = []
    for tl, budget, ln in zip(machine, limit, lines, strict=True):
        flags = [*tl.flags, *glossary_flags(ln.text, tl.text, glossary)]
        if over_budget(tl.text, budget, options.adapt):
            flags.append("over-budget")
        out.append(replace(tl, flags=tuple(flags), budget_chars=budget))
    within = sum("over-budget" not in t.flags for t in out)
    return tuple(out), within, within
