"""One market's video: its preset, its subtitles (soft, burned or both) in its script's font inside
the safe area, the AI label (visible, in the metadata, and as a C2PA manifest when signing
credentials are given)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from localize.core import jsonio
from localize.core.jsonio import atomic_write_text
from localize.core.media import run_ffmpeg
from localize.stages.picture.frames import overlay_of
from localize.stages.render.chunks import (
    CHUNK_SECONDS,
    CHUNKS_FILE,
    ChunkCache,
    ChunkReport,
    encode_chunks,
    probe_frames,
)
from localize.stages.render.credentials import Credentials, sign_video
from localize.stages.render.fonts import DEFAULT_FONT, choose_font
from localize.stages.render.layout import LayoutReport
from localize.stages.render.presets import output_size, resolve_preset, safe_area, subtitle_outputs
from localize.stages.render.styles import label_subtitles, market_subtitles
from localize.stages.render.subtitles import Cue, write_subtitles
from localize.stages.render.video import RenderSpec, draws, render_argv
from localize.stages.script.ocr.frames import video_geometry

LAYOUT_FILE = "layout.json"

if TYPE_CHECKING:
    from localize.core.markets import Market

log = logging.getLogger(__name__)


def render_options(market: Market, cues: Sequence[Cue], credentials: Credentials | None) -> dict:
    """What a market's render depends on besides its inputs (for its cache key); checks the preset and font."""
    preset = resolve_preset(market.render)
    soft, burned = subtitle_outputs(market.render.subtitles)
    font = choose_font(market.subtitles.font, market.language, tuple(c.text for c in cues), check=burned)
    if market.ai_label.visible:
        choose_font(DEFAULT_FONT, market.language, (market.ai_label.text,))  # drawn: must be installed
    return {"preset": asdict(preset), "subtitles": market.render.subtitles,
            "soft": soft, "burned": burned, "font": font.family,
            "reading_cps": market.style.reading_speed_cps,
            "c2pa": credentials.cache_options() if credentials else None}


def render_market_video(
    market: Market, *, picture: Path, audio: Path, cues: Sequence[Cue], out_dir: Path, title: str,
    credentials: Credentials | None = None, chunks: ChunkCache | None = None, source: Path | None = None,
) -> Path:
    """Write ``video.mp4``, ``subtitles.{srt,vtt,ass,ttml}`` and ``layout.json`` (how each line was split into
    cues, and its reading speed) for `market` into `out_dir`; the video's path.

    ``render.subtitles`` "auto" is rendered as "soft" here: the pipeline decides it from the source first
    (:func:`localize.stages.render.mode.subtitle_mode`).

    With `chunks`, a picture that is re-encoded is encoded in cached chunks
    (:mod:`localize.stages.render.chunks`): a render that differs from an earlier one in a few lines
    re-encodes only the seconds those lines are on screen.

    A band-only picture (the picture stage's ``strip.mp4``) is drawn over `source`."""
    preset = resolve_preset(market.render)
    overlay = overlay_of(picture)
    if overlay is not None and source is None:
        raise ValueError(f"{picture} is a band of the picture: render_market_video needs the source it goes over")
    base = source if overlay is not None and source is not None else picture
    geometry = video_geometry(base)
    size = output_size(preset, geometry.width, geometry.height)
    area = safe_area(*size)
    soft, burned = subtitle_outputs(market.render.subtitles)
    subs, font, layout = market_subtitles(cues, market, size, area, burned=burned, end_ms=geometry.duration_ms)
    write_subtitles(subs, out_dir, language=market.language)
    jsonio.save(LayoutReport(rules=layout.rules, lines=layout.lines), out_dir / LAYOUT_FILE)
    label = None
    if market.ai_label.visible:
        label = out_dir / "label.ass"
        atomic_write_text(label, label_subtitles(market.ai_label.text, market.language, size, area,
                                                 geometry.duration_ms).to_string("ass"))
    video = out_dir / "video.mp4"
    encoded = out_dir / "unsigned.mp4" if credentials else video
    spec = RenderSpec(
        source=base, audio=audio, subtitles=out_dir / "subtitles.srt", out=encoded, language=market.language,
        label_text=market.ai_label.text, label_file=None, label_ass=label, title=title, crf=preset.crf,
        preset=preset.encoder_preset, audio_bitrate=preset.audio_bitrate, soft=soft,
        burn=out_dir / "subtitles.ass" if burned else None, fonts_dir=font.file.parent if font.file else None,
        # An odd-sized source is scaled to the even size yuv420p needs.
        width=size[0] if size != (geometry.width, geometry.height) else 0,
        height=size[1] if size != (geometry.width, geometry.height) else 0,
        codec=preset.codec, video_bitrate=preset.video_bitrate,
        label_area=area,
        overlay=picture if overlay is not None else None, overlay_x=overlay.x if overlay else 0,
        overlay_y=overlay.y if overlay else 0,
    )
    ffconcat = None
    frames = probe_frames(base) if chunks is not None and draws(spec) else None
    if chunks is not None and frames is not None:
        ffconcat = out_dir / "chunks.ffconcat"
        made, total = encode_chunks(spec, chunks, frames, ffconcat)
        jsonio.save(ChunkReport(seconds=CHUNK_SECONDS, chunks=total, encoded=made), out_dir / CHUNKS_FILE)
    run_ffmpeg(render_argv(spec, encoded=ffconcat), f"rendering {market.tag}")
    if ffconcat is not None:
        ffconcat.unlink()
    if credentials:
        sign_video(encoded, video, credentials, label=market.ai_label.text, title=title)
        encoded.unlink()
    else:
        log.info("%s: no C2PA signing certificate given; the AI label is in the metadata only", market.tag)
    return video


__all__ = ["LAYOUT_FILE", "render_market_video", "render_options"]
