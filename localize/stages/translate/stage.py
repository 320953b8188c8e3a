"""The translation stage for one market: human subtitles, an LLM adapter, or a machine route.

The market's backends are tried in order. An adapter (an LLM: ``openai``, ``llm``) gets whole
batches with the series bible, context and length budgets, rewrites over-long lines shorter,
and falls back to the machine route of the remaining backends for a batch it cannot answer.
A machine route (Bergamot, Apertium, Marian...) translates line by line, pivoting through
English where needed. Either way every line carries its budget, and lines over it are flagged.

An LLM's answers for a script are an artifact of their own (:data:`ADAPTATION`), keyed on the lines, the
model and the market they were adapted for. A route that pivots through English (zh -> en by the LLM,
then Bergamot into Portuguese or Spanish) asks for the English as the first market of that language
(en-US) would: every such market, and en-US itself, shares one LLM pass over the episode.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import msgspec

from localize.core import jsonio
from localize.core.artifacts import Line, Script, TargetLine, Translation
from localize.core.cache import ArtifactStore, file_sha256
from localize.core.errors import ConfigError, LocalizeError, ModelIntegrityError, NoRouteError
from localize.core.markets import Market, load_markets
from localize.core.options import RunOptions
from localize.core.stage import Keyed, Stage
from localize.stages.translate import ADAPTERS, TRANSLATORS, Adapter
from localize.stages.translate.adapting import adapt_lines, budgets, over_budget
from localize.stages.translate.bible import Bible, load_bible
from localize.stages.translate.route import AUTO, Factory, Leg, auto_route, plan_route, translate_lines
from localize.stages.translate.subtitles import align_human_translation
from localize.stages.translate.tm import Match, TranslationMemory

log = logging.getLogger(__name__)

TRANSLATION = Stage("translation", version=1)
ADAPTATION = Stage("adaptation", version=1)  # an adapter's answers for a script's lines, for one market


def preferences(market: Market, options: RunOptions) -> tuple[str, ...]:
    prefs = (options.translate_backend,) if options.translate_backend else market.translation
    if AUTO in prefs and prefs != (AUTO,):
        raise ConfigError(f"market {market.tag}: translation {list(prefs)} mixes 'auto' with backend names; "
                          "give either [\"auto\"] or the backends in order of preference.")
    for name in prefs:
        if name != AUTO and not _is_adapter(name):
            TRANSLATORS.load(name)  # an unknown name fails before any work
    return prefs


def backend_factory(market: Market) -> Factory:
    """Makes backends by name with the market's settings (its GGUF model for llamacpp): a translator from
    TRANSLATORS, or for a name only ADAPTERS knows, an adapter. A backend registered in both is one class,
    so the object made serves either protocol."""
    def create(name: str) -> Any:
        registry = TRANSLATORS if _is_translator(name) else ADAPTERS
        if name == "llamacpp":
            return registry.create(name, model=market.llm.model or None, sha256=market.llm.sha256 or None,
                                   lines_per_request=market.llm.lines_per_request)
        return registry.create(name)
    return create


def _is_adapter(name: str) -> bool:
    return name in ADAPTERS.names()


def _is_translator(name: str) -> bool:
    return name in TRANSLATORS.names()


def _first_adapter(prefs: Sequence[str], factory: Factory) -> tuple[Adapter | None, tuple[str, ...]]:
    """The adapter to use (the first preference that is an adapter and runs here) and the preferences left
    for the machine route (the translators among the others)."""
    for name in prefs:
        if not _is_adapter(name):
            continue
        adapter = cast(Adapter, factory(name))  # the name is in ADAPTERS
        try:
            adapter.available()
        except ModelIntegrityError:
            raise
        except LocalizeError as exc:
            log.info("adapter %s unusable here: %s", name, exc)
            continue
        return adapter, tuple(p for p in prefs if p != name and _is_translator(p))
    return None, tuple(p for p in prefs if _is_translator(p))


def translate_market(
    market: Market, script_key: str, script: Script, store: ArtifactStore, options: RunOptions
) -> Keyed[Translation]:
    """The market's translation of the script (a human one where given) and its key."""
    human = {tag.lower(): Path(p) for tag, p in options.translations}.get(market.tag.lower())
    if human is None:  # subtitles of the market's language burned in beside the speech's (a bilingual release)
        from localize.stages.script.stage import burned_translation
        human = burned_translation(store, script_key, market.language)
    prefs = preferences(market, options)
    human_lines = align_human_translation(script.lines, human) if human else ()
    need_machine = not human or any(t is None for t in human_lines)
    bible = load_bible(options.bible_file) if options.bible_file else Bible()
    hits = _memory_hits(script, market, options) if not human else {}
    adapter, route, after = plan_market(market, script.language, prefs, need_machine)
    key = TRANSLATION.key(
        inputs=[script_key, file_sha256(human) if human else ""],
        backend="+".join([*([adapter.name] if adapter else []), *(leg.label for leg in (*after, *route))]),
        model_version="|".join([*([adapter.model_version()] if adapter else []),
                                *(leg.model_version() for leg in (*after, *route))]),
        options={"source": script.language, "target": market.language, "style": jsonio.to_dict(market.style),
                 "bible": bible.digest(market.language),
                 "adapt": jsonio.to_dict(options.adapt) if adapter else None,
                 "memory": {script.lines[i].id: [m.target, m.similarity] for i, m in sorted(hits.items())}},
    )

    def build(tmp: Path) -> None:
        pending = [ln for i, ln in enumerate(script.lines) if i not in hits]
        try:
            fresh, first, final = _translate(pending, script.language, market, route, adapter, bible, options,
                                             need_machine, after, _Cache(store, script_key)) \
                if pending else ((), 0, 0)
        finally:
            if adapter is not None:
                adapter.release()
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

    return Keyed(key, TRANSLATION.cached(store, key, build, lambda p: jsonio.load(Translation, p / "translation.json")))


def plan_market(market: Market, source: str, prefs: tuple[str, ...], need_machine: bool = True) \
        -> tuple[Adapter | None, tuple[Leg, ...], tuple[Leg, ...]]:
    """(adapter or None, machine route, legs after the adapter) for the market from `source`.

    With ``auto`` the measured best route decides; an LLM first leg becomes the adapter, the legs after it
    (a machine leg from English) translate its answer. With a preference list the first adapter that runs
    here adapts and the machine route of the other backends is its fallback. NoRouteError if nothing can."""
    factory = backend_factory(market)
    if not need_machine or source == market.language:
        return None, (), ()
    if prefs == (AUTO,):
        legs = auto_route(source, market.language, factory)
        if legs and _is_adapter(legs[0].backend):  # registered in both: the leg's backend adapts
            return cast(Adapter, legs[0].translator), (), legs[1:]
        return None, legs, ()
    adapter, rest = _first_adapter(prefs, factory)
    try:
        return adapter, plan_route(source, market.language, rest, factory), ()
    except NoRouteError:
        if adapter is None:
            raise
        log.info("no machine fallback for %s->%s: adapter failures will stop the run", source, market.language)
        return adapter, (), ()


def _memory_hits(script: Script, market: Market, options: RunOptions) -> dict[int, Match]:
    if options.tm_file is None or script.language == market.language:
        return {}
    with TranslationMemory(options.tm_file) as tm:
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


@dataclass(frozen=True, slots=True)
class _Cache:
    store: ArtifactStore
    script_key: str


def _adapted(adapter: Adapter, lines: Sequence[Line], source: str, market: Market, bible: Bible,
             options: RunOptions, cache: _Cache, route: tuple[Leg, ...] = ()) \
        -> tuple[tuple[TargetLine, ...], int, int]:
    """:func:`adapt_lines` for `market`, through the :data:`ADAPTATION` cache: the same lines adapted for the
    same market by the same model are answered once (a pivot market's English and en-US's own). `route`: the
    machine fallback for a batch the adapter cannot answer."""
    fallback = (lambda batch: translate_lines(batch, route)) if route or source == market.language else None

    key = ADAPTATION.key(
        inputs=[cache.script_key], backend=adapter.name, model_version=adapter.model_version(),
        options={"source": source, "market": market.tag, "target": market.language,
                 "style": jsonio.to_dict(market.style), "bible": bible.digest(market.language),
                 "adapt": jsonio.to_dict(options.adapt), "fallback": [leg.label for leg in route],
                 "lines": [[ln.id, ln.speaker, ln.text, ln.start_ms, ln.end_ms] for ln in lines]})

    def build(tmp: Path) -> None:
        out, first, final = adapt_lines(adapter, lines, source=source, market=market, bible=bible,
                                        options=options.adapt, fallback=fallback)
        jsonio.save(Translation(source_language=source, target_language=market.language, lines=out,
                                within_budget_first=first, within_budget_final=final), tmp / "adaptation.json")

    done = ADAPTATION.cached(cache.store, key, build, lambda p: jsonio.load(Translation, p / "adaptation.json"))
    return done.lines, done.within_budget_first, done.within_budget_final


def pivot_market(market: Market, language: str, options: RunOptions) -> Market:
    """The market an LLM adapts into `language` for, on the way to `market`: the first known market of that
    language (en-US for English), so every market pivoting through it shares the LLM's answers; `market`
    itself in that language where none is known."""
    for known in load_markets(*options.markets_files).values():
        if known.language == language:
            return known
    return msgspec.structs.replace(market, language=language)


def _translate(lines: Sequence[Line], source: str, market: Market, route: tuple[Leg, ...], adapter: Adapter | None,
               bible: Bible, options: RunOptions, need_machine: bool, after: tuple[Leg, ...],
               cache: _Cache) -> tuple[tuple[TargetLine, ...], int, int]:
    limit = budgets(lines, market)
    if adapter is not None and after:
        return _adapt_then_translate(adapter, lines, source, market, after, bible, options, cache)
    if adapter is not None:
        return _adapted(adapter, lines, source, market, bible, options, cache, route)
    machine = translate_lines(lines, route) if need_machine else tuple(
        TargetLine(id=ln.id, source_text=ln.text, text="", route=()) for ln in lines)
    return _checked(lines, machine, limit, market, bible, options)


def _checked(lines: Sequence[Line], targets: Sequence[TargetLine], limit: Sequence[int], market: Market,
             bible: Bible, options: RunOptions) -> tuple[tuple[TargetLine, ...], int, int]:
    """Machine-translated lines with their budgets and glossary and over-budget flags; (lines, within, within):
    a machine backend cannot rewrite, so as many fit first as fit finally."""
    from localize.stages.translate.adapt import glossary_flags

    glossary = bible.glossary_for(market.language)
    out = []
    for tl, budget, ln in zip(targets, limit, lines, strict=True):
        flags = [*tl.flags, *glossary_flags(ln.text, tl.text, glossary)]
        if over_budget(tl.text, budget, options.adapt):
            flags.append("over-budget")
        out.append(replace(tl, flags=tuple(flags), budget_chars=budget))
    within = sum("over-budget" not in t.flags for t in out)
    return tuple(out), within, within


def _adapt_then_translate(adapter: Adapter, lines: Sequence[Line], source: str, market: Market, after: tuple[Leg, ...],
                          bible: Bible, options: RunOptions, cache: _Cache) \
        -> tuple[tuple[TargetLine, ...], int, int]:
    """The adapter into the pivot language (as for that language's first market: :func:`pivot_market`), then
    the machine legs."""
    pivot = pivot_market(market, after[0].source, options)
    adapted, _, _ = _adapted(adapter, lines, source, pivot, bible, options, cache)
    texts = [t.text for t in adapted]
    for leg in after:
        texts = leg.translator.translate(texts, leg.source, leg.target)
    # The pivot's checks do not hold for the final text: its flags are made again against the market.
    final = [replace(tl, text=text, route=(*tl.route, *(leg.label for leg in after)),
                     flags=(*(f for f in tl.flags if f != "over-budget" and not f.startswith("glossary:")),
                            *(() if text.strip() else ("empty-translation",))))
             for tl, text in zip(adapted, texts, strict=True)]
    return _checked(lines, final, budgets(lines, market), market, bible, options)
