"""Options: what a run, and each stage, may be told, as frozen dataclasses instead of long keyword lists.

They live in core so that every stage, the run and the apps read the same definitions without importing
each other. Each stage option class gives ``cache_options()``: the fields that change its output, which go
into its cache key.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from localize.core.cache import file_sha256
from localize.core.errors import ConfigError

# C2PA signing algorithms c2pa-python accepts.
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


@dataclass(frozen=True, slots=True, kw_only=True)
class AsrOptions:
    model: str = "base"  # a manifest size name, or a local CTranslate2 model directory
    language: str | None = None  # None: detect
    vad: bool = True
    beam_size: int = 5
    # Chinese sources: the script lines are written in (see localize.stages.script.asr.chinese).
    chinese_script: str = "simplified"

    def cache_options(self) -> dict[str, object]:
        return {"model": self.model, "language": self.language, "vad": self.vad, "beam_size": self.beam_size,
                "chinese_script": self.chinese_script}


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionRules:
    slack_ms: int = 250
    agree: float = 0.5
    trust_ocr: float = 0.8

    def cache_options(self) -> dict[str, object]:
        return {"slack_ms": self.slack_ms, "agree": self.agree, "trust_ocr": self.trust_ocr}


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrOptions:
    reader: str = "rapidocr"
    language: str = "ch"  # a hint for the reader; rapidocr takes "ch"/"zh" or "en" (one model reads all)
    frame_step_ms: int = 250  # one sample is read every step (4 per second)
    refine_step_ms: int = 50  # cue boundaries are placed to within this; 0 = no refinement (within a step)
    search_region: tuple[float, float] = (0.6, 1.0)  # rows searched for the band, as shares of the height
    probe_frames: int = 12  # stills read whole to find the band
    min_confidence: float = 0.6  # text lines read with less confidence are dropped
    max_width: int = 960  # wider pictures are scaled down to this before reading
    change_threshold: float = 0.25  # band pictures closer than this reuse the last reading
    max_distance: float = 0.3  # readings this close (normalised edit distance) are the same cue
    flicker_confidence: float = 0.85  # a cue seen in one sample only must be read with this confidence
    threads: int = 0  # inference threads; 0 = the runtime's default (all cores)

    def __post_init__(self) -> None:
        if self.frame_step_ms <= 0:
            raise ConfigError(f"OCR frame_step_ms must be positive, not {self.frame_step_ms}.")
        if self.refine_step_ms < 0 or (self.refine_step_ms and self.frame_step_ms % self.refine_step_ms):
            raise ConfigError(
                f"OCR refine_step_ms ({self.refine_step_ms}) must be 0 or divide frame_step_ms ({self.frame_step_ms})."
            )
        top, bottom = self.search_region
        if not 0.0 <= top < bottom <= 1.0:
            raise ConfigError(f"OCR search_region {self.search_region} must be two shares of the height, top < bottom.")
        if self.probe_frames < 2:
            raise ConfigError(f"OCR probe_frames must be at least 2, not {self.probe_frames}.")
        if self.max_width < 64:
            raise ConfigError(f"OCR max_width must be at least 64 pixels, not {self.max_width}.")

    def cache_options(self) -> dict[str, object]:
        return {
            "reader": self.reader, "language": self.language, "frame_step_ms": self.frame_step_ms,
            "refine_step_ms": self.refine_step_ms, "search_region": list(self.search_region),
            "probe_frames": self.probe_frames, "min_confidence": self.min_confidence,
            "max_width": self.max_width, "change_threshold": self.change_threshold,
            "max_distance": self.max_distance, "flicker_confidence": self.flicker_confidence,
        }

    def progress_total(self, duration_ms: int) -> int:
        """How many units `read_burned_subtitles` advances progress by: probes plus samples."""
        return self.probe_frames + max(1, math.ceil(duration_ms / self.frame_step_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    cert: Path  # PEM certificate chain, signing certificate first
    key: Path  # PEM private key of the signing certificate
    algorithm: str = "es256"
    timestamp_url: str = ""  # an RFC 3161 time-stamp authority; empty: none (offline)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"C2PA algorithm must be one of {', '.join(ALGORITHMS)}, not {self.algorithm!r}.")

    def cache_options(self) -> dict:
        return {"cert": file_sha256(self.cert), "algorithm": self.algorithm, "tsa": self.timestamp_url}


@dataclass(frozen=True, slots=True, kw_only=True)
class SeparateOptions:
    """How to separate. The classic fields are ignored by demucs and the other way round."""

    backend: str = "classic"
    # classic: "auto" uses the side channel as background when the input is stereo and the
    # dialogue is centred (the side channel does not get louder inside speech spans); "on"/"off".
    mid_side: str = "auto"
    # Script timings are approximate: speech spans are widened by this much on each side.
    pad_ms: int = 150
    # The background under a line is estimated from non-speech audio up to this far around it.
    context_ms: int = 3000
    # Speech power counted as background when subtracting (>1 removes more voice, and more bed).
    over_subtraction: float = 1.5
    # The lowest background gain in a bin the voice dominates (dB); caps how much bed is lost.
    floor_db: float = -40.0
    # Exponent on the Wiener gain: >1 removes more voice.
    mask_power: float = 1.0
    # Gain smoothing (bins x frames) against musical noise.
    smooth_bins: int = 3
    smooth_frames: int = 3
    # Below this frequency nothing is removed: there is no voice there, only bed.
    low_cut_hz: float = 80.0
    # demucs
    demucs_model: str = "htdemucs"
    device: str = "cpu"


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptOptions:
    batch_lines: int = 16  # lines per request
    context_lines: int = 6  # previous lines sent with each batch
    rewrite_tries: int = 2  # shorter-rewrite rounds for lines over budget
    tolerance: float = 1.1  # a line is over budget past budget * tolerance
    fallback: tuple[str, ...] = field(default_factory=tuple)  # machine backends when the adapter fails


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
    speakers_backend: str = "resemblyzer"  # the speaker-embedding backend (SPEAKER_BACKENDS)
    # With a series cast: merge this episode's speakers into it and label the lines with its characters.
    # False: only leave the episode's speaker clusters for the cast (a catalog's parallel understand jobs,
    # whose market jobs merge them all in episode order).
    cast_merge: bool = True
    # A series cast (JSON) that keeps characters across episodes; created when missing.
    cast_file: Path | None = None
    series: str = ""  # the cast's series; default: the cast file's folder name
    # (speaker id or cast character name, clip) pairs: the recording a cloning TTS backend speaks that
    # speaker like (3-30 s), over the cast's and the automatic choice (localize.stages.voice.references).
    references: tuple[tuple[str, Path], ...] = ()
    # (speaker id or cast character name, consent record) pairs: a cloning TTS backend clones a character's
    # voice only under a record covering them, the series and the market (localize.core.consent).
    voice_consent: tuple[tuple[str, Path], ...] = ()
    # A commercial release: refuse, before any work, any backend whose model weights forbid commercial use.
    commercial: bool = False

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
        if self.separation not in ("on", "off"):
            raise ConfigError(f"separation must be 'on' or 'off', not {self.separation!r}.")
        for name in ("ocr", "speakers"):
            if getattr(self, name) not in ("auto", "on", "off"):
                raise ConfigError(f"{name} must be 'auto', 'on' or 'off', not {getattr(self, name)!r}.")
        if self.n_speakers is not None and self.n_speakers < 1:
            raise ConfigError(f"n_speakers must be 1 or more, not {self.n_speakers}.")

