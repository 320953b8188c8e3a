"""Run options, grouped in frozen dataclasses instead of a long keyword list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .asr import AsrOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    asr_backend: str = "faster-whisper"
    asr: AsrOptions = field(default_factory=AsrOptions)
    # Skip speech recognition: take the source script from this subtitle file.
    source_subs: Path | None = None
    # Human translations: (market tag, subtitle file) pairs that replace the machine route.
    translations: tuple[tuple[str, Path], ...] = ()
    # Extra market files on top of the built-in markets.
    markets_files: tuple[Path, ...] = ()
    # Override every market's backends (None: the market's own preference list).
    translate_backend: str | None = None
    tts_backend: str | None = None
    # Where artifacts are cached; None: <out>/.cache.
    cache_dir: Path | None = None
