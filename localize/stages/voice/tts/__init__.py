"""Dubbing voices: a synthesizer protocol, the base class the built-in backends share, and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from localize.core.registry import Registry


class Synthesizer(Protocol):
    """What the voice stage uses of a TTS backend (:class:`SynthesizerBase` gives the defaults)."""

    name: str
    # True when the backend can speak in the voice of a reference recording (voice cloning);
    # every backend accepts `reference=` and the others ignore it.
    clones: bool
    # True when the backend varies intonation per line: synthesize() follows `pitch_range=` (percent of the
    # voice's own range), which localize.stages.voice.dub carries from the original line; the others ignore it.
    expressive: bool

    def model_version(self, voice: str) -> str: ...

    def default_voice(self, language: str) -> str | None:
        """A voice for `language` when the market names none, or None."""
        ...

    def check(self, voice: str) -> None:
        """Raise a LocalizeError if `voice` cannot be synthesized here."""
        ...

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        """Write `text` spoken by `voice` to the WAV file `out`.

        `reference` is a WAV of the voice to imitate, used by backends whose `clones` is True
        (for xtts with voice "clone"); the others ignore it. `pitch_range` is the line's intonation
        range in percent of the voice's own (100: the voice's own), used where `expressive` is True.
        """
        ...

    def release(self) -> None:
        """Drop the loaded model (the next synthesize() loads it again)."""
        ...

    def clones_with(self, voice: str) -> bool:
        """Whether speaking `voice` imitates a reference recording (a real person's voice: it needs consent);
        a cloning backend's named voices do not."""
        ...

    def voice_for(self, voice: str, reference: Path | None) -> str:
        """The voice a character's lines are spoken in: `voice` itself, except for a service that makes a
        voice from the `reference` clip (elevenlabs' 'clone' becomes the id it made), which the series cast
        then keeps in place of `voice`."""
        ...


class SynthesizerBase:
    """Defaults of :class:`Synthesizer` for a backend that neither clones nor varies intonation and
    holds no model between calls; each backend still says what it does."""

    name: str = ""
    clones: bool = False
    expressive: bool = False

    def release(self) -> None:
        return None

    def clones_with(self, voice: str) -> bool:
        return self.clones

    def voice_for(self, voice: str, reference: Path | None) -> str:
        return voice


SYNTHESIZERS = Registry(
    "tts",
    {
        "piper": "localize.stages.voice.tts.piper:PiperSynthesizer",
        "espeak": "localize.stages.voice.tts.espeak:EspeakSynthesizer",
        "kokoro": "localize.stages.voice.tts.kokoro:KokoroSynthesizer",
        "xtts": "localize.stages.voice.tts.xtts:XttsSynthesizer",
        "openai-speech": "localize.stages.voice.tts.openai_speech:OpenAISpeechSynthesizer",
        "elevenlabs": "localize.stages.voice.tts.elevenlabs:ElevenLabsSynthesizer",
    },
)

__all__ = ["SYNTHESIZERS", "Synthesizer", "SynthesizerBase"]
