"""Run options, grouped in frozen dataclasses instead of a long keyword list."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from localize.stages.script.asr import AsrOptions
from localize.stages.script.fusion import FusionRules
from localize.stages.script.ocr import OcrOptions
from localize.stages.render.credentials import Credentials
from localize.stages.mix.separate import SeparateOptions
from localize.stages.translate.adapt import AdaptOptions


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
    # The series bible (TOML/JSON): synopsis, character names per language, glossary.
    bible_file: Path | None = None
    adapt: AdaptOptions = field(default_factory=AdaptOptions)
    # Separate the original's dialogue from its music and effects before the dub goes over them
    # ("on"; the backend is separate.backend: "classic" here, "demucs" with its weights), or "off".
    separation: str = "on"
    separate: SeparateOptions = field(default_factory=SeparateOptions)
    # A voice per character (espeak variants by the actor's pitch) and a pitch shift toward the actor.
    voice_matching: bool = True
    # Translation memory (SQLite): approved lines reused for identical or near-identical sources.
    tm_file: Path | None = None
    tm_threshold: float = 0.9
    tts_backend: str | None = None
    # Transcribe every dubbed line back and score it against its text (the report's backcheck_cer).
    backcheck: bool = True
    # Where artifacts are cached; None: the one default of every entry point (see cache_root()).
    cache_dir: Path | None = None
    # Sign each render with a C2PA manifest (certificate chain + key); None: LOCALIZE_C2PA_CERT/KEY, or no manifest.
    c2pa: Credentials | None = None
    # Burned-in subtitles: "auto" reads them when the `ocr` extra is installed, "on" requires it, "off".
    ocr: str = "auto"
    ocr_options: OcrOptions = field(default_factory=OcrOptions)
    fusion: FusionRules = field(default_factory=FusionRules)
    # Who speaks each line: "auto" when the `speakers` extra is installed, "on" requires it, "off".
    speakers: str = "auto"
    n_speakers: int | None = None  # the episode's cast size, when known
    # A series cast (JSON) that keeps characters across episodes; created when missing.
    cast_file: Path | None = None
    series: str = ""  # the cast's series; default: the cast file's folder name
    # (speaker id or cast character name, clip) pairs: the recording a cloning TTS backend speaks that
    # speaker like (3-30 s), over the cast's and the automatic choice (localize.stages.voice.references).
    references: tuple[tuple[str, Path], ...] = ()

    def open_cast(self, *, create: bool = False) -> object | None:
        """The series cast registry of `cast_file` (a CastRegistry), or None when there is none;
        `create`: start an empty cast when the file does not exist yet."""
        if self.cast_file is None or (not create and not Path(self.cast_file).is_file()):
            return None
        from localize.stages.script.speakers import CastRegistry

        path = Path(self.cast_file)
        return CastRegistry.load(path, self.series or path.parent.name)

    def cache_root(self) -> Path:
        """Where every entry point (run, transcribe, prepare, relocalize, catalog) keeps its artifacts:
        ``cache_dir``, else ``$LOCALIZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/localize/artifacts``
        (``~/.cache/localize/artifacts``). Artifacts are content-addressed, so any run may share them."""
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        if env := os.environ.get("LOCALIZE_CACHE_DIR"):
            return Path(env)
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "localize" / "artifacts"

    def __post_init__(self) -> None:
        from localize.core.errors import ConfigError

        if self.separation not in ("on", "off"):
            raise ConfigError(f"separation must be 'on' or 'off', not {self.separation!r}.")
        for name in ("ocr", "speakers"):
            if getattr(self, name) not in ("auto", "on", "off"):
                raise ConfigError(f"{name} must be 'auto', 'on' or 'off', not {getattr(self, name)!r}.")
        if self.n_speakers is not None and self.n_speakers < 1:
            raise ConfigError(f"n_speakers must be 1 or more, not {self.n_speakers}.")

