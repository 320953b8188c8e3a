"""Translation: a backend protocol, a registry and route planning.

A market names machine backends in order of preference; :func:`plan_route`
takes the first that covers the language pair, or pivots through English
with two legs (es->en by Apertium, en->pt by Bergamot) where none does. A
human translation from a subtitle file (:mod:`.subtitles`) replaces the
machine route for a market.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from localize.core.registry import Registry


class Translator(Protocol):
    name: str

    def model_version(self) -> str: ...

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Language pairs (ISO 639-1) this backend can translate here; raises if unusable."""
        ...

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]: ...


TRANSLATORS = Registry(
    "translate",
    {
        "bergamot": "localize.stages.translate.bergamot:BergamotTranslator",
        "apertium": "localize.stages.translate.apertium:ApertiumTranslator",
        "llamacpp": "localize.stages.translate.llamacpp:LlamaCppAdapter",
        "openai": "localize.stages.translate.openai_backend:OpenAITranslator",
        "llm": "localize.stages.translate.llm:TransformersAdapter",
        "seq2seq": "localize.stages.translate.seq2seq:Seq2SeqTranslator",
    },
)

__all__ = ["TRANSLATORS", "Translator"]
