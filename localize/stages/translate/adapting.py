"""Run an adapter over a script: batches with context, shorter rewrites, fallback, checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from localize.core.artifacts import Line, TargetLine
from localize.core.errors import LocalizeError
from localize.core.markets import Market
from localize.core.options import AdaptOptions
from localize.stages.translate import Adapter
from localize.stages.translate.adapt import (
    AdaptRequest,
    LineAnswer,
    LineRequest,
    budget_chars,
    glossary_flags,
    spoken_length,
)
from localize.stages.translate.bible import Bible

log = logging.getLogger(__name__)


def over_budget(text: str, budget: int, options: AdaptOptions) -> bool:
    return spoken_length(text) > budget * options.tolerance


def budgets(lines: Sequence[Line], market: Market) -> list[int]:
    return [budget_chars(ln.duration_ms, market.style) for ln in lines]


def adapt_lines(
    adapter: Adapter,
    lines: Sequence[Line],
    *,
    source: str,
    market: Market,
    bible: Bible,
    options: AdaptOptions,
    fallback: Callable[[Sequence[Line]], Sequence[TargetLine]] | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[tuple[TargetLine, ...], int, int]:
    """(target lines, lines within budget first, lines within budget after rewrites)."""
    target = market.language
    names = bible.names_for(target)
    glossary = bible.glossary_for(target)
    limit = budgets(lines, market)
    label = f"{adapter.name}:{source}-{target}"

    def request(idx: Sequence[int], *, rewrite: bool = False, attempts: dict[int, str] | None = None) -> AdaptRequest:
        first = idx[0]
        before = lines[max(0, first - options.context_lines):first]
        return AdaptRequest(
            source_language=source, target_language=target, market=market.tag, style=market.style,
            synopsis=bible.synopsis, glossary=glossary, rewrite=rewrite,
            characters=tuple(sorted({(ln.speaker, names.get(ln.speaker, ln.speaker)) for ln in lines})),
            context=tuple((names.get(ln.speaker, ln.speaker), ln.text) for ln in before),
            lines=tuple(LineRequest(id=lines[i].id, speaker=names.get(lines[i].speaker, lines[i].speaker),
                                    text=lines[i].text, budget_chars=limit[i],
                                    previous_attempt=(attempts or {}).get(i, "")) for i in idx),
        )

    answers: dict[int, LineAnswer] = {}
    done: dict[int, TargetLine] = {}
    for start in range(0, len(lines), options.batch_lines):
        idx = list(range(start, min(start + options.batch_lines, len(lines))))
        try:
            got = adapter.adapt(request(idx))
        except LocalizeError as exc:
            if fallback is None:
                raise
            log.warning("%s failed on lines %s..%s (%s); falling back", adapter.name, lines[idx[0]].id,
                        lines[idx[-1]].id, exc)
            for i, tl in zip(idx, fallback([lines[i] for i in idx]), strict=True):
                done[i] = replace(tl, flags=(*tl.flags, f"fallback:{adapter.name}"), budget_chars=limit[i])
            advance(len(idx))
            continue
        answers.update(zip(idx, got, strict=True))
        advance(len(idx))

    first_within = sum(not over_budget(a.text, limit[i], options) for i, a in answers.items())
    stuck: set[int] = set()  # a rewrite came back no shorter: asking again would send the same request
    # A line goes back for a shorter rewrite only when the dub cannot absorb it by speaking faster (up to the
    # market's max_speed): a rewrite may lose meaning (the packaged model's cut "Ah, maybe it would be better
    # suited for the American market" to "But perhaps it's better for the US").
    rewrite_past = max(options.tolerance, market.max_speed)
    for _ in range(options.rewrite_tries):
        over = [i for i, a in sorted(answers.items())
                if spoken_length(a.text) > limit[i] * rewrite_past and i not in stuck]
        if not over:
            break
        for start in range(0, len(over), options.batch_lines):
            idx = over[start:start + options.batch_lines]
            try:
                got = adapter.adapt(request(idx, rewrite=True, attempts={i: answers[i].text for i in idx}))
            except LocalizeError as exc:
                log.warning("%s: shorter rewrite failed (%s); keeping the longer lines", adapter.name, exc)
                continue
            for i, a in zip(idx, got, strict=True):
                if spoken_length(a.text) < spoken_length(answers[i].text):
                    answers[i] = replace(a, idiom=answers[i].idiom or a.idiom, literal=answers[i].literal or a.literal)
                else:
                    stuck.add(i)
    final_within = sum(not over_budget(a.text, limit[i], options) for i, a in answers.items())

    for i, a in answers.items():
        flags = [*glossary_flags(lines[i].text, a.text, glossary)]
        if a.idiom:
            flags.append("idiom")
        done[i] = TargetLine(id=lines[i].id, source_text=lines[i].text, text=a.text, route=(label,),
                             flags=tuple(flags), budget_chars=limit[i], literal=a.literal)
    out = []
    for i in range(len(lines)):
        tl = done[i]
        if over_budget(tl.text, limit[i], options) and "over-budget" not in tl.flags:
            tl = replace(tl, flags=(*tl.flags, "over-budget"))
        out.append(tl)
    # Lines that fell back count as first/final translations too, for the budget statistics.
    fell = [i for i in done if i not in answers]
    fell_within = sum(not over_budget(done[i].text, limit[i], options) for i in fell)
    return tuple(out), first_within + fell_within, final_within + fell_within
