"""Understanding: speech recognition into a timed, speaker-labelled script.

A recognizer returns raw timed words; :func:`localize.stages.script.asr.lines.cut_lines`
cuts them into lines for dubbing and subtitles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from localize.core.options import AsrOptions
from localize.core.registry import Registry

# AsrOptions lives in localize.core.options (imported above).


@dataclass(frozen=True, slots=True)
class RawWord:
    start_ms: int
    end_ms: int
    text: str  # as the model wrote it, leading space included
    probability: float


@dataclass(frozen=True, slots=True)
class RawTranscript:
    language: str
    language_probability: float
    segments: tuple[tuple[RawWord, ...], ...]
    # What the model hears when the language is forced: a mismatch means the wrong --language.
    detected_language: str = ""
    detected_probability: float = 0.0


class Recognizer(Protocol):
    name: str

    def model_version(self) -> str: ...

    def recognize(self, audio: Path) -> RawTranscript:
        """Transcribe a 16 kHz mono WAV into words with timings."""
        ...

    def transcribe_clip(self, clip: Path, language: str, *, max_tokens: int | None = None) -> str:
        """The text heard in a short clip (a dubbed line), decoded deterministically: the same clip always
        gives the same text. Decoding stops after `max_tokens` tokens where given."""
        ...

    def release(self) -> None: ...


RECOGNIZERS = Registry(
    "asr",
    {
        "faster-whisper": "localize.stages.script.asr.faster_whisper:FasterWhisperRecognizer",
        "whisperx": "localize.stages.script.asr.whisperx_backend:WhisperXRecognizer",
        "openai": "localize.stages.script.asr.openai_transcribe:OpenAITranscriber",
    },
)

__all__ = ["RECOGNIZERS", "AsrOptions", "RawTranscript", "RawWord", "Recognizer"]
