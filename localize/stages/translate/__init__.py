"""Translation: two backend protocols, their registries, and route planning.

A *translator* (:class:`Translator`, registry :data:`TRANSLATORS`) turns texts into texts for the
language pairs it covers: Bergamot, Apertium, Marian/NLLB. An *adapter* (:class:`Adapter`, registry
:data:`ADAPTERS`) is a language model that adapts whole batches of lines with the market's style,
the series bible and length budgets: llama.cpp, an OpenAI-compatible endpoint, a transformers LLM.
A backend that implements both protocols is registered in both, under one name and one class.

A market names backends in order of preference; :func:`~.route.plan_route` takes the first
translator that covers the language pair, or pivots through English with two legs (es->en by
Apertium, en->pt by Bergamot) where none does. A human translation from a subtitle file
(:mod:`.subtitles`) replaces the machine route for a market. Third-party packages add backends
through the ``localize.backends`` entry point group as ``translate.<name>`` or ``adapt.<name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from localize.core.registry import Registry

if TYPE_CHECKING:
    from localize.stages.translate.adapt import AdaptRequest, LineAnswer


class Translator(Protocol):
    """Machine translation: texts in, texts out."""

    name: str

    def model_version(self) -> str:
        """What produced the output (model, weights, settings): part of the stage's cache key."""
        ...

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Language pairs (ISO 639-1) this backend can translate here; raises if unusable."""
        ...

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]: ...


class Adapter(Protocol):
    """Adaptation by a language model: one request of lines with their context, one answer per line."""

    name: str

    def model_version(self) -> str:
        """What produced the output (model, weights, prompts, settings): part of the stage's cache key."""
        ...

    def available(self) -> None:
        """Raise a LocalizeError if this adapter cannot run here (no endpoint, no model)."""
        ...

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        """One answer per requested line, in order; MalformedAnswer after its own retries."""
        ...

    def release(self) -> None:
        """Free what the adapter loaded (a model, memory); it loads again if used later."""
        ...


TRANSLATORS = Registry(
    "translate",
    {
        "bergamot": "localize.stages.translate.bergamot:BergamotTranslator",
        "apertium": "localize.stages.translate.apertium:ApertiumTranslator",
        "seq2seq": "localize.stages.translate.seq2seq:Seq2SeqTranslator",
        "opencc": "localize.stages.translate.opencc_backend:OpenCCTranslator",  # zh <-> zh-Hant script
        # The LLMs below are adapters that also translate plain texts (for routes and `localize backends`).
        "llamacpp": "localize.stages.translate.llamacpp:LlamaCppAdapter",
        "openai": "localize.stages.translate.openai_backend:OpenAIAdapter",
        "llm": "localize.stages.translate.llm:TransformersAdapter",
    },
)

ADAPTERS = Registry(
    "adapt",
    {
        "llamacpp": "localize.stages.translate.llamacpp:LlamaCppAdapter",
        "openai": "localize.stages.translate.openai_backend:OpenAIAdapter",
        "llm": "localize.stages.translate.llm:TransformersAdapter",
    },
)

__all__ = ["ADAPTERS", "TRANSLATORS", "Adapter", "Translator"]
