"""Dubbing voices: a synthesizer protocol and registry."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from localize.core.registry import Registry


class Synthesizer(Protocol):
    name: str
    # True when the backend can speak in the voice of a reference recording (voice cloning);
    # every backend accepts `reference=` and the others ignore it.
    clones: bool
    # Backends that can vary intonation per line set `expressive = True` and take `pitch_range=`
    # (percent of the voice's own range) in synthesize(); localize.stages.voice.dub carries it from the original line.

    def model_version(self, voice: str) -> str: ...

    def default_voice(self, language: str) -> str | None:
        """A voice for `language` when the market names none, or None."""
        ...

    def check(self, voice: str) -> None:
        """Raise a LocalizeError if `voice` cannot be synthesized here."""
        ...

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None) -> None:
        """Write `text` spoken by `voice` to the WAV file `out`.

        `reference` is a WAV of the voice to imitate, used by backends whose `clones` is True
        (for xtts with voice "clone"); the others ignore it.
        """
        ...


SYNTHESIZERS = Registry(
    "tts",
    {
        "piper": "localize.stages.voice.tts.piper:PiperSynthesizer",
        "espeak": "localize.stages.voice.tts.espeak:EspeakSynthesizer",
        "kokoro": "localize.stages.voice.tts.kokoro:KokoroSynthesizer",
        "xtts": "localize.stages.voice.tts.xtts:XttsSynthesizer",
    },
)

__all__ = ["SYNTHESIZERS", "Synthesizer"]
