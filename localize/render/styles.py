"""A market's subtitles as ASS: its style, the font for its script, placed inside the safe area."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import pysubs2

from ..subtitles import Cue, build_ssa
from .fonts import DEFAULT_FONT, ChosenFont, choose_font
from .presets import SafeArea, safe_area

if TYPE_CHECKING:
    from ..markets import Market


def market_subtitles(cues: Sequence[Cue], market: Market, size: tuple[int, int],
                     area: SafeArea | None = None, *, burned: bool = True) -> tuple[pysubs2.SSAFile, ChosenFont]:
    """The cues as an SSAFile for a `size` (width, height) picture, and the font they are set in.

    Bottom-centred; the bottom margin is the market's ``margin_v`` or the safe area's bottom inset,
    whichever is larger, and the side margins are the safe area's (wider on the right, where the
    apps' buttons are). Right-to-left scripts are laid out by libass (FriBidi). `burned`: the font
    must be installed here (ConfigError if not).
    """
    width, height = size
    font = choose_font(market.subtitles.font, market.language, tuple(c.text for c in cues), check=burned)
    style = msgspec.structs.replace(market.subtitles, font=font.family)
    subs = build_ssa(cues, style=style, play_res=size)
    area = area or safe_area(width, height)
    left, right, _, bottom = area.margins(width, height)
    default = subs.styles["Default"]
    # libass places the line box at the margin; the outline, shadow and low marks (Devanagari, Thai)
    # reach past it, so they get room of their own.
    ink = math.ceil(default.outline + default.shadow + default.fontsize * 0.1)
    default.marginl, default.marginr = left + ink, right + ink
    default.marginv = max(default.marginv, bottom + ink)
    return subs, font


def label_subtitles(text: str, language: str, size: tuple[int, int], area: SafeArea,
                    duration_ms: int) -> pysubs2.SSAFile:
    """The visible AI label as one ASS event over the whole video: small, on a translucent box, in the
    safe area's top-right corner, in the font of the label's script (libass falls back per glyph, so
    a Thai label with "AI" in it draws both)."""
    width, height = size
    font = choose_font(DEFAULT_FONT, language, (text,))
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.bold = font.family, round(height / 45, 1), False
    style.primarycolor = pysubs2.Color(255, 255, 255, 40)
    style.outlinecolor = style.backcolor = pysubs2.Color(0, 0, 0, 115)  # the box: black at 45%
    style.borderstyle, style.outline, style.shadow = 3, round(height / 320, 1), 0
    left, right, top, _ = area.margins(width, height)
    style.alignment = pysubs2.Alignment.TOP_RIGHT
    style.marginl, style.marginr, style.marginv = left, right, top
    subs.append(pysubs2.SSAEvent(start=0, end=max(duration_ms, 1), text=text.replace("\n", " ")))
    return subs


__all__ = ["label_subtitles", "market_subtitles"]
