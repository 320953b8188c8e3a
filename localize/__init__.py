"""localize: localize microdrama episodes for other languages and markets.

    import localize
    result = localize.localize_episode("ep01.mp4", markets=["pt-BR", "en-US"], out="out/")
    for m in result.markets:
        print(m.market, m.video, m.report.loudness.integrated_lufs)

Importing this package is cheap: the pipeline and its backends load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "localize_episode": "localize.pipeline",
    "transcribe": "localize.pipeline",
    "relocalize": "localize.pipeline",
    "prepare_episode": "localize.pipeline",
    "LineOverride": "localize.artifacts",
    "RunOptions": "localize.options",
    "AsrOptions": "localize.asr",
    "Market": "localize.markets",
    "load_markets": "localize.markets",
    "get_market": "localize.markets",
    "probe": "localize.media.probe",
    "load_subtitles": "localize.subtitles",
    "LocalizeError": "localize.errors",
    "InputError": "localize.errors",
    "MediaError": "localize.errors",
    "UnknownNameError": "localize.errors",
    "MissingExtraError": "localize.errors",
    "ArtifactStore": "localize.cache",
    "Word": "localize.artifacts",
    "Line": "localize.artifacts",
    "Script": "localize.artifacts",
    "TargetLine": "localize.artifacts",
    "Translation": "localize.artifacts",
    "DubLine": "localize.artifacts",
    "DubTrack": "localize.artifacts",
    "Loudness": "localize.artifacts",
    "Report": "localize.artifacts",
    "ReportLine": "localize.artifacts",
    "MarketResult": "localize.artifacts",
    "EpisodeResult": "localize.artifacts",
    "MediaInfo": "localize.artifacts",
    "FaceSwapNote": "localize.artifacts",
    "ConsentRecord": "localize.picture.consent",
    "check_consent": "localize.picture.consent",
    "FaceSwapProcessor": "localize.picture.faceswap",
    "FrameProcessor": "localize.picture.frames",
    "picture_stage": "localize.picture.frames",
    "process_video": "localize.picture.frames",
    "SubtitleRemover": "localize.picture.inpaint",
    "RemovalOptions": "localize.picture.inpaint",
    "Credentials": "localize.render.credentials",
    "read_manifest": "localize.render.credentials",
    "VideoPreset": "localize.render.presets",
    "PRESETS": "localize.render.presets",
    "render_market_video": "localize.render.market",
    "measure_swap": "localize.picture.identity",
    "detect_shots": "localize.picture.shots",
    "track_faces": "localize.picture.faces",
    "mouth_activity": "localize.picture.mouth",
    "speaking_faces": "localize.picture.mouth",
    "align_track": "localize.picture.lipalign",
    "LipSyncProcessor": "localize.picture.lipsync",
    "Wav2LipOnnx": "localize.picture.lipsync",
    "Catalog": "localize.catalog",
    "BatchResult": "localize.catalog",
    "CatalogStatus": "localize.catalog",
    "catalog_status": "localize.catalog",
    "ReviewStore": "localize.review",
    "MarketReview": "localize.review",
    "ReviewLine": "localize.review",
    "LineReview": "localize.review",
    "SignOff": "localize.review",
    "ExportResult": "localize.review",
    "QaRow": "localize.review",
    "review_market": "localize.review",
    "check_reference": "localize.references",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'localize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover
    from .artifacts import (DubLine, DubTrack, EpisodeResult, Line, Loudness, MarketResult, MediaInfo, Report,
                            ReportLine, Script, TargetLine, Translation, Word)
    from .asr import AsrOptions
    from .cache import ArtifactStore
    from .catalog import BatchResult, Catalog, CatalogStatus, catalog_status
    from .errors import InputError, LocalizeError, MediaError, MissingExtraError, UnknownNameError
    from .markets import Market, get_market, load_markets
    from .media.probe import probe
    from .options import RunOptions
    from .artifacts import FaceSwapNote
    from .picture.consent import ConsentRecord, check_consent
    from .picture.faceswap import FaceSwapProcessor
    from .picture.frames import FrameProcessor, picture_stage, process_video
    from .picture.inpaint import RemovalOptions, SubtitleRemover
    from .render.credentials import Credentials, read_manifest
    from .render.market import render_market_video
    from .render.presets import PRESETS, VideoPreset
    from .picture.identity import measure_swap
    from .picture.faces import track_faces
    from .picture.lipalign import align_track
    from .picture.lipsync import LipSyncProcessor, Wav2LipOnnx
    from .picture.mouth import mouth_activity, speaking_faces
    from .picture.shots import detect_shots
    from .artifacts import LineOverride
    from .pipeline import localize_episode, prepare_episode, relocalize, transcribe
    from .references import check_reference
    from .review import ExportResult, LineReview, MarketReview, QaRow, ReviewLine, ReviewStore, SignOff, review_market
    from .subtitles import load_subtitles
