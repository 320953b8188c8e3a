"""Adaptation by a language model: the request, the prompt, the answer, and the checks.

Machine translation backends (Bergamot, Apertium, Marian/NLLB) turn texts into texts. An
*adapter* (an OpenAI-compatible endpoint, a local transformers LLM) gets much more per batch
of lines: the market's style guide, the series synopsis, the characters' names in the market
language, the glossary, the lines just before the batch with their speakers, and each line's
length budget. It answers JSON, one object per line, and flags idioms with their literal
meaning so QA can check the adaptation.

Every adapter shares :func:`build_messages` and :func:`parse_answer`, so the prompt and the
validation are the same whichever model runs them.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import LocalizeError
from ..markets import StyleGuide


class MalformedAnswer(LocalizeError):
    """The model's answer is not the JSON asked for (retried; never cached)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRequest:
    id: str
    speaker: str
    text: str
    budget_chars: int  # the most characters that can be spoken in the line's slot
    previous_attempt: str = ""  # a rewrite request: the too-long translation to shorten


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptRequest:
    source_language: str
    target_language: str
    market: str
    style: StyleGuide
    lines: tuple[LineRequest, ...]
    synopsis: str = ""
    characters: tuple[tuple[str, str], ...] = ()  # (speaker id, name in the target language)
    glossary: tuple[tuple[str, str], ...] = ()  # (source term, required target term)
    context: tuple[tuple[str, str], ...] = ()  # (speaker, source text) of the lines just before
    rewrite: bool = False  # every line is over its budget: make it shorter, keep the meaning


@dataclass(frozen=True, slots=True, kw_only=True)
class LineAnswer:
    id: str
    text: str
    idiom: bool = False
    literal: str = ""  # for an idiom: what the source says word for word
    note: str = ""


class Adapter(Protocol):
    name: str

    def model_version(self) -> str: ...

    def available(self) -> None:
        """Raise a LocalizeError if this adapter cannot run here (no endpoint, no model)."""
        ...

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        """One answer per requested line, in order; MalformedAnswer after its own retries."""
        ...


def budget_chars(slot_ms: int, style: StyleGuide) -> int:
    """Characters that fit the slot at the language's speaking rate (at least a short word)."""
    return max(4, math.floor(slot_ms / 1000 * style.speaking_rate_cps))


def spoken_length(text: str) -> int:
    """Characters that take time to say: letters, digits and spaces between words."""
    return len(" ".join("".join(ch for ch in text if unicodedata.category(ch)[0] in "LNZ").split()))


SYSTEM_PROMPT = """You adapt the dialogue of a short vertical drama for dubbing and subtitles in another market.
Rules:
- Keep each line's meaning, emotion and register; it must sound like natural speech in the target language.
- Idioms, sayings and culture-bound phrases: use a natural equivalent of the target market, not a literal
  rendering. Mark such a line "idiom": true and give "literal": a word-for-word rendering of the source.
- Names and terms: use the character names and glossary terms given, exactly.
- Each line has "budget": the most characters it may have so the dub fits the time of the original line.
  Stay within it; shorten by rephrasing, never by dropping meaning.
- Follow the market's style guide.
Answer with only a JSON object: {"lines": [{"id": ..., "text": ..., "idiom": false, "literal": ""}, ...]}
with exactly one object per input line, same ids, same order."""


def build_messages(request: AdaptRequest) -> list[dict[str, str]]:
    """The chat messages every adapter sends: one system prompt, one JSON user message."""
    style = request.style
    payload = {
        "task": "rewrite shorter" if request.rewrite else "adapt",
        "source_language": request.source_language,
        "target_language": request.target_language,
        "market": request.market,
        "style_guide": {
            "formality": style.formality, "honorifics": style.honorifics, "units": style.units,
            "currency": style.currency or "keep the source's", "names": style.names, "profanity": style.profanity,
            "notes": style.notes,
        },
        "synopsis": request.synopsis,
        "characters": [{"id": cid, "name": name} for cid, name in request.characters],
        "glossary": [{"source": src, "target": tgt} for src, tgt in request.glossary],
        "previous_lines": [{"speaker": spk, "text": text} for spk, text in request.context],
        "lines": [
            {"id": ln.id, "speaker": ln.speaker, "text": ln.text, "budget": ln.budget_chars,
             **({"too_long_translation": ln.previous_attempt} if ln.previous_attempt else {})}
            for ln in request.lines
        ],
    }
    if request.rewrite:
        payload["instruction"] = ("Each translation in too_long_translation is over its budget. Rewrite it "
                                  "shorter, within budget, keeping the meaning and the tone.")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_answer(content: str, request: AdaptRequest) -> list[LineAnswer]:
    """Validate a model's answer against the request; MalformedAnswer says what was wrong."""
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except ValueError as exc:
        # Small local models often wrap the object in prose ("Here it is: {...}").
        start, end = text.find("{"), text.rfind("}")
        try:
            data = json.loads(text[start:end + 1]) if 0 <= start < end else None
        except ValueError:
            data = None
        if data is None:
            raise MalformedAnswer(f"the answer is not JSON ({exc.msg} at {exc.pos}).") from None
    items = data.get("lines") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedAnswer("the answer has no 'lines' list.")
    wanted = [ln.id for ln in request.lines]
    by_id = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("text"), str):
            raise MalformedAnswer(f"a line of the answer lacks a string id or text: {str(item)[:80]!r}.")
        if item["id"] in by_id:
            raise MalformedAnswer(f"the answer has line {item['id']} twice.")
        by_id[item["id"]] = item
    missing = [i for i in wanted if i not in by_id or not by_id[i]["text"].strip()]
    if missing:
        raise MalformedAnswer(f"the answer misses lines {', '.join(missing)}.")
    extra = sorted(set(by_id) - set(wanted))
    if extra:
        raise MalformedAnswer(f"the answer has lines that were not asked for: {', '.join(extra)}.")
    return [
        LineAnswer(id=i, text=by_id[i]["text"].strip(), idiom=bool(by_id[i].get("idiom", False)),
                   literal=str(by_id[i].get("literal") or ""), note=str(by_id[i].get("note") or ""))
        for i in wanted
    ]


def glossary_flags(source: str, target: str, glossary: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """'glossary:<term>' for each glossary term in the source whose required rendering the target lacks."""
    flags = []
    folded = target.casefold()
    for src, tgt in glossary:
        if src and src.casefold() in source.casefold() and tgt.casefold() not in folded:
            flags.append(f"glossary:{src}->{tgt}")
    return tuple(flags)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptOptions:
    batch_lines: int = 16  # lines per request
    context_lines: int = 6  # previous lines sent with each batch
    rewrite_tries: int = 2  # shorter-rewrite rounds for lines over budget
    tolerance: float = 1.1  # a line is over budget past budget * tolerance
    fallback: tuple[str, ...] = field(default_factory=tuple)  # machine backends when the adapter fails
