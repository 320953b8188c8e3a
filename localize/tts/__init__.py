"""Dubbing voices: a synthesizer protocol and registry."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..registry import Registry


class Synthesizer(Protocol):
    name: str

    def model_version(self, voice: str) -> str: ...

    def default_voice(self, language: str) -> str | None:
        """A voice for `language` when the market names none, or None."""
        ...

    def check(self, voice: str) -> None:
        """Raise a LocalizeError if `voice` cannot be synthesized here."""
        ...

    def synthesize(self, text: str, voice: str, out: Path) -> None:
        """Write `text` spoken by `voice` to the WAV file `out`."""
        ...


SYNTHESIZERS = Registry(
    "tts",
    {
        "piper": "localize.tts.piper:PiperSynthesizer",
        "espeak": "localize.tts.espeak:EspeakSynthesizer",
    },
)

__all__ = ["SYNTHESIZERS", "Synthesizer"]
