"""Which frame processors a market's picture needs, and the picture they make; where a market's
subtitles go when it leaves that to the source (``render.subtitles = "auto"``).

The source's burned-in subtitles come in as a :data:`SourceSubtitles` callable, called only when they
are needed: in a run, the OCR track the script stage fused with
(``localize.stages.script.stage.source_subtitles``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from localize.core.errors import ConfigError
from localize.core.progress import NullProgress, Progress
from localize.core.stage import Built, Keyed
from localize.stages.picture.faceswap_market import face_swap_processor
from localize.stages.picture.frames import FrameProcessor, picture_stage
from localize.stages.picture.inpaint import SubtitleRemover, needs_removal
from localize.stages.render.mode import subtitle_mode

if TYPE_CHECKING:
    from localize.core.artifacts import OcrTrack, Script
    from localize.core.cache import ArtifactStore
    from localize.core.markets import Market
    from localize.core.options import RunOptions
    from localize.stages.audio.stage import Source

log = logging.getLogger(__name__)

# The source's burned-in subtitles when asked: the OCR artifact's key and its track (None: OCR off or no track).
SourceSubtitles = Callable[[], "Keyed[OcrTrack | None]"]


def no_subtitles() -> Keyed[OcrTrack | None]:
    """A source without an OCR track."""
    return Keyed(key="", value=None)


def check_picture(market: Market, options: RunOptions) -> None:
    """What can fail in the market's picture before any work: the face swap's consent record and
    backend name, the lip-sync backend's name (UnknownNameError listing the known ones)."""
    face_swap_processor(market, options)
    if market.picture.lip_sync:
        from localize.stages.picture.lipsync import lip_sync_backend

        lip_sync_backend(market.picture.lip_sync)


def subtitle_remover(market: Market, options: RunOptions,
                     subtitles: SourceSubtitles = no_subtitles) -> SubtitleRemover | None:
    """A remover of the source's burned-in subtitles when the market wants one (see `needs_removal`)."""
    mode = market.picture.remove_source_subtitles
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"market {market.tag}: picture.remove_source_subtitles must be 'auto', 'on' or 'off', "
                          f"not {mode!r}.")
    if mode == "off" or (mode == "auto" and market.render.subtitles not in ("burned", "both")):
        return None
    if options.ocr == "off":
        if mode == "on":
            log.warning("%s: remove_source_subtitles is 'on' but OCR is off; the source's subtitles stay", market.tag)
        return None
    ocr = subtitles()
    if ocr.value is None or not needs_removal(mode, market.render.subtitles, ocr.value):
        return None
    return SubtitleRemover(ocr.value, ocr.key)


def resolve_subtitles(market: Market, source: Source, source_language: str, options: RunOptions,
                      subtitles: SourceSubtitles = no_subtitles) -> Market:
    """The market with ``render.subtitles`` "auto" decided for this source (localize.stages.render.mode): "both"
    when OCR finds burned-in subtitles in a language its viewers are not assumed to read, else "soft"."""
    if market.render.subtitles != "auto":
        return market
    texts: tuple[str, ...] = ()
    same_language = source_language.split("-")[0].lower() == market.language.split("-")[0].lower()
    if options.ocr != "off" and source.info.has_video and not same_language:  # same language: "soft", unread
        track = subtitles().value
        texts = tuple(c.text for c in track.cues) if track else ()
    mode = subtitle_mode("auto", burned_texts=texts, source_language=source_language,
                         market_language=market.language)
    log.info("%s: subtitles %s (%d burned-in cues in the source, spoken %s)", market.tag,
             "burned in over the source's, which are painted out, and soft" if mode == "both" else "soft",
             len(texts), source_language)
    return msgspec.structs.replace(market, render=msgspec.structs.replace(market.render, subtitles=mode))


def market_processors(market: Market, source: Source, store: ArtifactStore, options: RunOptions,
                      progress: Progress, script: Script | None = None,
                      subtitles: SourceSubtitles = no_subtitles) -> list[FrameProcessor]:
    """The market's frame processors in order: subtitle removal first (of `subtitles`), then face swap
    (on the character's own face track when `script` is given, else on the largest face)."""
    processors: list[FrameProcessor] = []
    remover = subtitle_remover(market, options, subtitles)
    if remover is not None:
        processors.append(remover)
    swap = face_swap_processor(market, options, source=source, store=store, script=script, progress=progress)
    if swap is not None:
        processors.append(swap)
    return processors


def market_picture(market: Market, source: Source, store: ArtifactStore, options: RunOptions,
                   progress: Progress | None = None, script: Script | None = None,
                   extra: Sequence[FrameProcessor] = (), *,
                   subtitles: SourceSubtitles = no_subtitles) -> Built[Path] | None:
    """The market's processed picture, or None when the source's picture is used as is.
    `extra` processors run last (lip-sync, which needs the market's dub); `subtitles`: the source's
    burned-in subtitles, for their removal."""
    progress = progress or NullProgress()
    processors = [*market_processors(market, source, store, options, progress, script, subtitles), *extra]
    if not processors:
        return None
    return picture_stage(source, processors, store, progress)


__all__ = ["SourceSubtitles", "check_picture", "market_picture", "market_processors", "no_subtitles",
           "resolve_subtitles", "subtitle_remover"]
