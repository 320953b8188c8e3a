"""localize: localize microdrama episodes for other languages and markets.

    import localize
    result = localize.localize_episode("ep01.mp4", markets=["pt-BR", "en-US"], out="out/")
    for m in result.markets:
        print(m.market, m.video, m.report.loudness.integrated_lufs)

This module is the whole public API (each name is documented in the README's "Python API" section).
Importing it is cheap: the pipeline, its stages and their backends load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # Run the pipeline
    "localize_episode": "localize.run",
    "relocalize": "localize.run",
    "transcribe": "localize.run",
    "prepare_episode": "localize.run",
    # Configure it
    "RunOptions": "localize.core.options",
    "AsrOptions": "localize.core.options",
    "OcrOptions": "localize.core.options",
    "FusionRules": "localize.core.options",
    "AdaptOptions": "localize.core.options",
    "SeparateOptions": "localize.core.options",
    "Credentials": "localize.core.options",
    "Market": "localize.core.markets",
    "load_markets": "localize.core.markets",
    "get_market": "localize.core.markets",
    "Progress": "localize.core.progress",
    # What it returns (every other artifact class is in localize.artifacts)
    "Script": "localize.core.artifacts",
    "Translation": "localize.core.artifacts",
    "DubTrack": "localize.core.artifacts",
    "Report": "localize.core.artifacts",
    "MarketResult": "localize.core.artifacts",
    "EpisodeResult": "localize.core.artifacts",
    "LineOverride": "localize.core.artifacts",
    # Files in and out
    "probe": "localize.core.media.probe",
    "load_subtitles": "localize.stages.render.subtitles",
    "save_script": "localize.stages.render.subtitles",
    "check_reference": "localize.stages.voice.references",
    "backend_status": "localize.backends",
    # Series, catalog and review
    "CastRegistry": "localize.stages.script.speakers.cast",
    "TranslationMemory": "localize.stages.translate.tm",
    "ConsentRecord": "localize.stages.picture.consent",
    "Catalog": "localize.apps.catalog",
    "ReviewStore": "localize.apps.review",
    "review_market": "localize.apps.review",
    # Errors: every user error is a LocalizeError (the CLI prints it in one line and exits 2)
    "LocalizeError": "localize.core.errors",
    "InputError": "localize.core.errors",
    "MediaError": "localize.core.errors",
    "ConfigError": "localize.core.errors",
    "MissingExtraError": "localize.core.errors",
}
_MODULES = {"artifacts": "localize.core.artifacts"}

# Spelled out (not computed) so linters and type checkers see the re-exports;
# tests/unit/test_public_exports.py keeps it equal to sorted([*_EXPORTS, *_MODULES]).
__all__ = [
    "AdaptOptions",
    "AsrOptions",
    "CastRegistry",
    "Catalog",
    "ConfigError",
    "ConsentRecord",
    "Credentials",
    "DubTrack",
    "EpisodeResult",
    "FusionRules",
    "InputError",
    "LineOverride",
    "LocalizeError",
    "Market",
    "MarketResult",
    "MediaError",
    "MissingExtraError",
    "OcrOptions",
    "Progress",
    "Report",
    "ReviewStore",
    "RunOptions",
    "Script",
    "SeparateOptions",
    "Translation",
    "TranslationMemory",
    "artifacts",
    "backend_status",
    "check_reference",
    "get_market",
    "load_markets",
    "load_subtitles",
    "localize_episode",
    "prepare_episode",
    "probe",
    "relocalize",
    "review_market",
    "save_script",
    "transcribe",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'localize' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover
    from localize.apps.catalog import Catalog
    from localize.apps.review import ReviewStore, review_market
    from localize.backends import backend_status
    from localize.core import artifacts
    from localize.core.artifacts import DubTrack, EpisodeResult, LineOverride, MarketResult, Report, Script, Translation
    from localize.core.errors import ConfigError, InputError, LocalizeError, MediaError, MissingExtraError
    from localize.core.markets import Market, get_market, load_markets
    from localize.core.media.probe import probe
    from localize.core.options import (
        AdaptOptions,
        AsrOptions,
        Credentials,
        FusionRules,
        OcrOptions,
        RunOptions,
        SeparateOptions,
    )
    from localize.core.progress import Progress
    from localize.run import localize_episode, prepare_episode, relocalize, transcribe
    from localize.stages.picture.consent import ConsentRecord
    from localize.stages.render.subtitles import load_subtitles, save_script
    from localize.stages.script.speakers.cast import CastRegistry
    from localize.stages.translate.tm import TranslationMemory
    from localize.stages.voice.references import check_reference
