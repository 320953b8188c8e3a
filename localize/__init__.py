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
    "localize_episode": "localize.run",
    "transcribe": "localize.run",
    "relocalize": "localize.run",
    "prepare_episode": "localize.run",
    "LineOverride": "localize.core.artifacts",
    "RunOptions": "localize.core.options",
    "AsrOptions": "localize.stages.script.asr",
    "Market": "localize.core.markets",
    "load_markets": "localize.core.markets",
    "get_market": "localize.core.markets",
    "probe": "localize.core.media.probe",
    "load_subtitles": "localize.stages.render.subtitles",
    "LocalizeError": "localize.core.errors",
    "InputError": "localize.core.errors",
    "MediaError": "localize.core.errors",
    "UnknownNameError": "localize.core.errors",
    "MissingExtraError": "localize.core.errors",
    "ArtifactStore": "localize.core.cache",
    "Word": "localize.core.artifacts",
    "Line": "localize.core.artifacts",
    "Script": "localize.core.artifacts",
    "TargetLine": "localize.core.artifacts",
    "Translation": "localize.core.artifacts",
    "DubLine": "localize.core.artifacts",
    "DubTrack": "localize.core.artifacts",
    "Loudness": "localize.core.artifacts",
    "Report": "localize.core.artifacts",
    "ReportLine": "localize.core.artifacts",
    "MarketResult": "localize.core.artifacts",
    "EpisodeResult": "localize.core.artifacts",
    "MediaInfo": "localize.core.artifacts",
    "FaceSwapNote": "localize.core.artifacts",
    "ConsentRecord": "localize.stages.picture.consent",
    "check_consent": "localize.stages.picture.consent",
    "FaceSwapProcessor": "localize.stages.picture.faceswap",
    "FrameProcessor": "localize.stages.picture.frames",
    "picture_stage": "localize.stages.picture.frames",
    "process_video": "localize.stages.picture.frames",
    "SubtitleRemover": "localize.stages.picture.inpaint",
    "RemovalOptions": "localize.stages.picture.inpaint",
    "Credentials": "localize.stages.render.credentials",
    "read_manifest": "localize.stages.render.credentials",
    "VideoPreset": "localize.stages.render.presets",
    "PRESETS": "localize.stages.render.presets",
    "render_market_video": "localize.stages.render.market",
    "measure_swap": "localize.stages.picture.identity",
    "detect_shots": "localize.stages.picture.shots",
    "track_faces": "localize.stages.picture.faces",
    "mouth_activity": "localize.stages.picture.mouth",
    "speaking_faces": "localize.stages.picture.mouth",
    "align_track": "localize.stages.picture.lipalign",
    "LipSyncProcessor": "localize.stages.picture.lipsync",
    "Wav2LipOnnx": "localize.stages.picture.lipsync",
    "Catalog": "localize.apps.catalog",
    "BatchResult": "localize.apps.catalog",
    "CatalogStatus": "localize.apps.catalog",
    "catalog_status": "localize.apps.catalog",
    "ReviewStore": "localize.apps.review",
    "MarketReview": "localize.apps.review",
    "ReviewLine": "localize.apps.review",
    "LineReview": "localize.apps.review",
    "SignOff": "localize.apps.review",
    "ExportResult": "localize.apps.review",
    "QaRow": "localize.apps.review",
    "review_market": "localize.apps.review",
    "check_reference": "localize.stages.voice.references",
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
    from localize.core.artifacts import (DubLine, DubTrack, EpisodeResult, Line, Loudness, MarketResult, MediaInfo, Report,
                            ReportLine, Script, TargetLine, Translation, Word)
    from localize.stages.script.asr import AsrOptions
    from localize.core.cache import ArtifactStore
    from localize.apps.catalog import BatchResult, Catalog, CatalogStatus, catalog_status
    from localize.core.errors import InputError, LocalizeError, MediaError, MissingExtraError, UnknownNameError
    from localize.core.markets import Market, get_market, load_markets
    from localize.core.media.probe import probe
    from localize.core.options import RunOptions
    from localize.core.artifacts import FaceSwapNote
    from localize.stages.picture.consent import ConsentRecord, check_consent
    from localize.stages.picture.faceswap import FaceSwapProcessor
    from localize.stages.picture.frames import FrameProcessor, picture_stage, process_video
    from localize.stages.picture.inpaint import RemovalOptions, SubtitleRemover
    from localize.stages.render.credentials import Credentials, read_manifest
    from localize.stages.render.market import render_market_video
    from localize.stages.render.presets import PRESETS, VideoPreset
    from localize.stages.picture.identity import measure_swap
    from localize.stages.picture.faces import track_faces
    from localize.stages.picture.lipalign import align_track
    from localize.stages.picture.lipsync import LipSyncProcessor, Wav2LipOnnx
    from localize.stages.picture.mouth import mouth_activity, speaking_faces
    from localize.stages.picture.shots import detect_shots
    from localize.core.artifacts import LineOverride
    from localize.run import localize_episode, prepare_episode, relocalize, transcribe
    from localize.stages.voice.references import check_reference
    from localize.apps.review import ExportResult, LineReview, MarketReview, QaRow, ReviewLine, ReviewStore, SignOff, review_market
    from localize.stages.render.subtitles import load_subtitles
