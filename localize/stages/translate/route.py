"""Plan and run a translation route: direct, or two legs through English (through Simplified Chinese
into Traditional: the LLM into ``zh``, then OpenCC's script conversion into ``zh-Hant``).

A market lists backends in order of preference (:func:`plan_route`), or ``auto``: then the route is
the best-scoring one for the language pair in ``routes.toml`` (chrF on real references, measured by
``bench/bench_translate.py``) whose backends all run here (:func:`auto_route`), and for a pair the
table lacks, the first route the default order can build.
"""

from __future__ import annotations

import functools
import logging
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from localize.core.artifacts import Line, TargetLine
from localize.core.errors import ConfigError, LocalizeError, ModelIntegrityError, NoRouteError
from localize.stages.translate import ADAPTERS, TRANSLATORS, Translator
from localize.stages.translate.openai_backend import ANY_PAIR

log = logging.getLogger(__name__)
PIVOT = "en"
AUTO = "auto"
TRADITIONAL_CHINESE = "zh-Hant"  # reached from Simplified Chinese by script conversion (opencc)
# For pairs the measured table lacks: the offline LLM first (any pair), then the machine backends; opencc
# first, which covers only zh <-> zh-Hant, where a script conversion beats any translation.
DEFAULT_ORDER = ("opencc", "llamacpp", "bergamot", "apertium", "openai")
# A service the user configured (LOCALIZE_OPENAI_BASE_URL) is the model they chose: it goes first.
CONFIGURED_FIRST = ("openai",)


@dataclass(frozen=True, slots=True)
class Leg:
    backend: str
    source: str
    target: str
    translator: Translator

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.source}-{self.target}"

    def model_version(self) -> str:
        return self.translator.model_version()


def _covers(pairs: frozenset[tuple[str, str]], source: str, target: str) -> bool:
    return (source, target) in pairs or ANY_PAIR in pairs


def pivot_for(source: str, target: str) -> str:
    """The language a two-leg route goes through: Simplified Chinese to or from Traditional (en->zh by a
    translator, then zh->zh-Hant by script conversion), else English."""
    if TRADITIONAL_CHINESE in (source, target) and "zh" not in (source, target):
        return "zh"
    return PIVOT


def plan_route(source: str, target: str, preferences: Sequence[str], factory: Factory | None = None) \
        -> tuple[Leg, ...]:
    """The legs that take `source` to `target`; () when they are the same language."""
    if source == target:
        return ()
    usable: list[tuple[str, Translator, frozenset[tuple[str, str]]]] = []
    tried = []
    for name in preferences:
        found = _probe(name, factory or TRANSLATORS.create)  # unknown name -> UnknownNameError
        if isinstance(found, LocalizeError):
            tried.append(f"{name} (unusable: {found})".rstrip("."))
            continue
        tried.append(name)
        usable.append((name, *found))

    def leg(src: str, tgt: str, named: bool = False) -> Leg | None:
        """The first usable backend for the pair; `named`: only one that lists it (no any-pair LLM)."""
        for name, translator, pairs in usable:
            if (src, tgt) in pairs if named else _covers(pairs, src, tgt):
                return Leg(name, src, tgt, translator)
        return None

    pivot = pivot_for(source, target)
    through = (leg(source, pivot), leg(pivot, target, named=pivot != PIVOT) or leg(pivot, target)) \
        if pivot not in (source, target) else (None, None)
    if pivot != PIVOT and through[0] is not None and through[1] is not None:
        # Traditional Chinese: translate into Simplified, then convert the script, rather than ask a
        # translator (an LLM covers any pair) to write Traditional characters and Taiwan's words itself.
        return (through[0], through[1])
    direct = leg(source, target)
    if direct is not None:
        return (direct,)
    if through[0] is not None and through[1] is not None:
        return (through[0], through[1])
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


@dataclass(frozen=True, slots=True)
class MeasuredRoute:
    pair: str  # "zh-en"
    via: str  # "llamacpp" or "llamacpp>bergamot": backends of the legs, through pivot_for's language when two
    chrf: float
    references: str = ""  # what it was measured on


@functools.cache
def measured_routes() -> dict[tuple[str, str], tuple[MeasuredRoute, ...]]:
    """routes.toml: every measured route per (source, target), best chrF first."""
    text = resources.files(__package__).joinpath("routes.toml").read_text(encoding="utf-8")
    table: dict[tuple[str, str], list[MeasuredRoute]] = {}
    for row in tomllib.loads(text).get("route", []):
        route = MeasuredRoute(pair=row["pair"], via=row["via"], chrf=float(row["chrf"]),
                              references=row.get("references", ""))
        source, _, target = route.pair.partition("-")
        table.setdefault((source, target), []).append(route)
    return {pair: _ranked(routes) for pair, routes in table.items()}


# chrF points below which two routes measured on a dozen reference lines are not told apart.
TIE_CHRF = 1.0


def route_cost(via: str) -> int:
    """0: machine backends only; 1: an adapter (an LLM) only as the first leg of a route through English,
    which every market of the source language shares (one LLM pass for en-US, pt-BR and es-MX); 2: an
    adapter leg of the market's own."""
    legs = via.split(">")
    adapters = [i for i, leg in enumerate(legs) if leg in ADAPTERS.names()]
    return 0 if not adapters else 1 if adapters == [0] and len(legs) == 2 else 2


MAX_COST_ENV = "LOCALIZE_ROUTE_MAX_COST"


def _within_cost(routes: Sequence[MeasuredRoute]) -> list[MeasuredRoute]:
    """The measured routes in rank order, those costing more than ``$LOCALIZE_ROUTE_MAX_COST`` (0, 1 or 2;
    :func:`route_cost`) after all the others: a catalog team that wants no LLM pass of a market's own where a
    cheaper route exists sets it to 1 (es->en then takes Apertium, chrF 57.6, not the LLM's 64.1 at 3.5 s a
    line). A pair with no route within the limit still takes its best."""
    raw = os.environ.get(MAX_COST_ENV, "").strip()
    if not raw:
        return list(routes)
    if raw not in ("0", "1", "2"):
        raise ConfigError(f"{MAX_COST_ENV}={raw!r}: use 0 (no LLM), 1 (an LLM pass the markets share) or 2 (any).")
    limit = int(raw)
    return [r for r in routes if route_cost(r.via) <= limit] + [r for r in routes if route_cost(r.via) > limit]


def _ranked(routes: list[MeasuredRoute]) -> tuple[MeasuredRoute, ...]:
    """Best chrF first; but among the routes within TIE_CHRF of the best, the cheapest comes first
    (:func:`route_cost`): no LLM, then an LLM pass the markets share, then the market's own."""
    best = max(r.chrf for r in routes)
    return tuple(sorted(routes, key=lambda r: (best - r.chrf > TIE_CHRF, route_cost(r.via), -r.chrf)))


Factory = Callable[[str], Translator]


def _probe(name: str, factory: Factory) -> tuple[Translator, frozenset[tuple[str, str]]] | LocalizeError:
    """The backend and the pairs it covers here, or why it cannot run here."""
    translator = factory(name)
    try:
        return translator, translator.pairs()
    except ModelIntegrityError:
        raise  # a pinned model that changed is the user's to fix, not a backend to skip
    except LocalizeError as exc:
        log.info("translation backend %s unusable here: %s", name, exc)
        return exc


def _usable(name: str, cache: dict[str, tuple[Translator, frozenset[tuple[str, str]]] | None],
            factory: Factory) -> tuple[Translator, frozenset[tuple[str, str]]] | None:
    if name not in cache:
        found = _probe(name, factory)
        cache[name] = None if isinstance(found, LocalizeError) else found
    return cache[name]


def _legs(via: str, source: str, target: str, cache: dict, factory: Factory) -> tuple[Leg, ...] | None:
    names = via.split(">")
    pivot = pivot_for(source, target)
    stops = [source, *([pivot] if len(names) == 2 else []), target]
    if len(names) > 2 or (len(names) == 2 and pivot in (source, target)):
        return None
    legs = []
    for name, src, tgt in zip(names, stops[:-1], stops[1:], strict=True):
        found = _usable(name, cache, factory)
        if found is None or not _covers(found[1], src, tgt):
            return None
        legs.append(Leg(name, src, tgt, found[0]))
    return tuple(legs)


def auto_route(source: str, target: str, factory: Factory | None = None) -> tuple[Leg, ...]:
    """The best measured route for the pair among what runs here, else the default order's route.
    `factory` makes a backend by name (default: the registry's, with no options)."""
    if source == target:
        return ()
    factory = factory or TRANSLATORS.create
    cache: dict = {}
    for name in CONFIGURED_FIRST:
        legs = _legs(name, source, target, cache, factory)
        if legs is not None:
            log.info("%s->%s: route %s (configured service)", source, target, name)
            return legs
    for measured in _within_cost(measured_routes().get((source, target), ())):
        legs = _legs(measured.via, source, target, cache, factory)
        if legs is not None:
            log.info("%s->%s: route %s (chrF %.1f measured)", source, target, measured.via, measured.chrf)
            return legs
    return plan_route(source, target, DEFAULT_ORDER, factory)
