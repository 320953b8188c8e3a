"""Adaptation by a language model: the request, the prompt, the answer, and the checks.

Machine translation backends (Bergamot, Apertium, Marian/NLLB) turn texts into texts. An
*adapter* (an OpenAI-compatible endpoint, a local transformers LLM) gets much more per batch
of lines: the market's style guide, the series synopsis, the characters' names in the market
language, the glossary, the lines just before the batch with their speakers, and each line's
length budget. It answers JSON, one object per line, and flags idioms with their literal
meaning so QA can check the adaptation.

Every adapter (:class:`~localize.stages.translate.Adapter`) shares :func:`build_messages` and
:func:`parse_answer`, so the prompt and the validation are the same whichever model runs them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from localize.core.errors import LocalizeError
from localize.core.markets import StyleGuide
from localize.stages.translate import Adapter


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


def budget_chars(slot_ms: int, style: StyleGuide) -> int:
    """Characters that fit the slot at the language's speaking rate (at least a short word)."""
    return max(4, math.floor(slot_ms / 1000 * style.speaking_rate_cps))


def spoken_length(text: str) -> int:
    """Characters that take time to say: letters, digits and spaces between words."""
    return len(" ".join("".join(ch for ch in text if unicodedata.category(ch)[0] in "LNZ").split()))


PROMPTS_ENV = "LOCALIZE_PROMPTS_DIR"


def prompt_text(name: str) -> str:
    """A prompt file: ``$LOCALIZE_PROMPTS_DIR/<name>`` when that file exists, else the packaged one in
    ``localize/stages/translate/prompts/``. Translators read and tune these files; their text is part of
    every adapter's cache key (:func:`prompts_digest`), so a changed prompt translates again."""
    override = os.environ.get(PROMPTS_ENV, "").strip()
    if override:
        path = Path(override).expanduser() / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    return resources.files(__package__).joinpath("prompts", name).read_text(encoding="utf-8").strip()


PROMPT_FILES = ("system.txt", "rewrite.txt", "line.txt", "line_rewrite_system.txt", "line_rewrite.txt")


def prompts_digest() -> str:
    h = hashlib.sha256()
    for name in PROMPT_FILES:
        h.update(prompt_text(name).encode("utf-8") + b"\0")
    return h.hexdigest()[:16]



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
        payload["instruction"] = prompt_text("rewrite.txt")
    return [
        {"role": "system", "content": prompt_text("system.txt")},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


# --- one line per request: for small local models ----------------------------------------------------
#
# Measured on episode B with the packaged 1.5B model (bench/bench_llm_episode.py): the batch prompt above
# (a JSON payload of 8 lines with context) scored chrF 36.0 in 218 s; one short request per line scored
# 39.6 in 88 s (37.8 in 69 s with today's rewrites). Context lines made the small model translate the
# context instead of the line (chrF 26), so a per-line request carries none: the system prompt (the same
# for every line, so llama.cpp's prompt cache keeps it) holds the market's style, synopsis and names; the
# user message holds the line, its budget and the glossary terms it contains.


def _language_name(code: str) -> str:
    import langcodes

    try:
        return str(langcodes.Language.get(code).display_name())
    except (LookupError, ValueError):
        return code


def build_line_system(request: AdaptRequest) -> str:
    """The system prompt of every per-line request of a market: ``prompts/line.txt`` with the languages
    filled in, then the style guide, synopsis and character names that are set."""
    style = request.style
    text = Template(prompt_text("line.txt")).safe_substitute(
        source=_language_name(request.source_language), target=_language_name(request.target_language))
    # Only the formality and the notes: a small model follows a few plain instructions best.
    notes = [style.formality if style.formality != StyleGuide().formality else "", style.notes.strip()]
    extra = [f"Style: {'. '.join(n.rstrip('.') for n in notes if n)}." if any(notes) else "",
             f"Story: {request.synopsis.strip()}" if request.synopsis.strip() else "",
             "Characters: " + ", ".join(name for _, name in request.characters) + "."
             if any(cid != name for cid, name in request.characters) else ""]
    return "\n".join([text, *(e for e in extra if e)])


def build_line_messages(request: AdaptRequest) -> list[dict[str, str]]:
    """The chat messages of a one-line request (a translation, or a shorter rewrite of one)."""
    if len(request.lines) != 1:
        raise ValueError(f"a per-line request has one line, not {len(request.lines)}")

    line = request.lines[0]
    terms = [f"{src} = {tgt}" for src, tgt in request.glossary if src and src.casefold() in line.text.casefold()]
    fields = {"source": _language_name(request.source_language), "target": _language_name(request.target_language),
              "budget": str(line.budget_chars), "text": line.text, "translation": line.previous_attempt,
              "length": str(spoken_length(line.previous_attempt))}
    if terms:
        fields["terms"] = "\nUse these terms: " + "; ".join(terms) + "."
    if request.rewrite and line.previous_attempt:
        # An editor's task on the English alone: with the translator's prompt and the source, the small model
        # gave the same text back (0 of episode B's 7 long lines shorter; 6 of 7 this way).
        system = Template(prompt_text("line_rewrite_system.txt")).safe_substitute(fields)
        user = Template(prompt_text("line_rewrite.txt")).safe_substitute(fields)
    else:
        system = build_line_system(request)
        user = f"Translate into {fields['target']}, at most {line.budget_chars} characters: {line.text}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user + fields.get("terms", "")}]


def line_schema(request: AdaptRequest) -> dict[str, Any]:
    """JSON schema of a one-line answer: ``{"idiom": false, "text": ...}`` or ``{"idiom": true,
    "literal": ..., "text": ...}`` (a rewrite: ``{"text": ...}``). The idiom decision comes first, and a
    line that is no idiom costs no literal field: with the text first the small model began lines with
    "But"; with "literal" always asked for, it copied every line into it (measured on episode B: chrF
    39.5 and 38.3 against 43.5)."""
    text = _text_schema(request)
    if request.rewrite:  # a shorter rewrite keeps the first answer's idiom flag
        return {"type": "object", "additionalProperties": False, "required": ["text"], "properties": {"text": text}}
    literal = {**text, "maxLength": 300}
    plain = {"idiom": {"const": False}, "text": text}
    idiom = {"idiom": {"const": True}, "literal": literal, "text": text}
    return {"anyOf": [{"type": "object", "additionalProperties": False, "required": list(p), "properties": p}
                      for p in (plain, idiom)]}


def parse_line_answer(content: str, request: AdaptRequest) -> LineAnswer:
    """Validate a one-line answer; MalformedAnswer says what was wrong."""
    try:
        data = json.loads(_FENCE.sub("", content.strip()))
    except json.JSONDecodeError as exc:
        raise MalformedAnswer(f"the answer is not JSON ({exc.msg} at {exc.pos}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not data["text"].strip():
        raise MalformedAnswer(f"the answer has no text: {content[:80]!r}.")
    idiom = data.get("idiom") is True
    return LineAnswer(id=request.lines[0].id, text=data["text"].strip(), idiom=idiom,
                      literal=str(data.get("literal") or "").strip() if idiom else "")


def per_line(request: AdaptRequest) -> list[AdaptRequest]:
    """A request of several lines as one request per line (no context lines: see above)."""
    return [replace(request, lines=(line,), context=()) for line in request.lines]


HAN_SCRIPT_LANGUAGES = frozenset({"zh", "ja", "ko", "yue"})
NO_HAN = "^[^\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]*$"


def answer_schema(request: AdaptRequest) -> dict[str, Any]:
    """The JSON schema of a valid answer to `request`: exactly its ids, in order, each with a non-empty text
    (and, for a target language not written with Chinese characters, none of them: a small model otherwise
    leaves a word it does not know untranslated). A runtime with constrained decoding (llama.cpp grammars)
    can only produce answers that pass :func:`parse_answer`."""
    text = _text_schema(request)

    def line(line_id: str) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["id", "text", "idiom", "literal"],
                "properties": {"id": {"const": line_id}, "text": text,
                               "idiom": {"type": "boolean"}, "literal": {"type": "string", "maxLength": 300}}}
    n = len(request.lines)
    return {"type": "object", "additionalProperties": False, "required": ["lines"],
            "properties": {"lines": {"type": "array", "prefixItems": [line(ln.id) for ln in request.lines],
                                     "minItems": n, "maxItems": n}}}


def _text_schema(request: AdaptRequest) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 600}
    if request.target_language.split("-")[0] not in HAN_SCRIPT_LANGUAGES:  # zh-Hant is written in Han too
        text["pattern"] = NO_HAN
    return text


def plain_translate(adapter: Adapter, texts: Sequence[str], source: str, target: str, *,
                    batch_lines: int = 16) -> list[str]:
    """Plain translation through an adapter: batches with the default style guide, roomy budgets, and the
    batch before as context; empty texts stay empty."""
    out = [""] * len(texts)
    todo = [(i, text) for i, text in enumerate(texts) if text.strip()]
    context: list[tuple[str, str]] = []
    for start in range(0, len(todo), batch_lines):
        batch = todo[start:start + batch_lines]
        request = AdaptRequest(
            source_language=source, target_language=target, market=target, style=StyleGuide(),
            lines=tuple(LineRequest(id=f"L{i + 1}", speaker="", text=text, budget_chars=max(200, 6 * len(text)))
                        for i, text in batch),
            context=tuple(context[-6:]),
        )
        for (i, _), answer in zip(batch, adapter.adapt(request), strict=True):
            out[i] = answer.text
        context.extend(("", text) for _, text in batch)
    return out


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_answer(content: str, request: AdaptRequest) -> list[LineAnswer]:
    """Validate a model's answer against the request; MalformedAnswer says what was wrong."""
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
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
