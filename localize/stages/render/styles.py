"""A market's subtitles as ASS: its style, the font for its script, placed inside the safe area."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import pysubs2

from localize.stages.render.fonts import DEFAULT_FONT, ChosenFont, choose_font
from localize.stages.render.layout import Layout, LayoutRules, layout_cues
from localize.stages.render.presets import SafeArea, safe_area
from localize.stages.render.subtitles import Cue, build_ssa

if TYPE_CHECKING:
    from localize.core.markets import Market


# On a vertical picture the subtitle text is sized to the picture's narrow width: a market's default
# font_size (14 on the 288-line canvas) is 3.75 % of the height, 72 px on 1920 rows (DejaVu Sans letters
# 62 px to the em), instead of the 4.9 % (93 px) of a landscape picture, at which a 1080 px wide row
# inside the safe area holds about 15 Latin letters and a long line took 8 rows.
VERTICAL_TEXT = 0.0375
DEFAULT_FONT_SIZE = 14


def text_scale(size: tuple[int, int]) -> float:
    """What a market's font size, outline and shadow (on the 288-line canvas) are multiplied by."""
    width, height = size
    if height >= 1.5 * width:  # vertical, as in safe_area
        return height * VERTICAL_TEXT / DEFAULT_FONT_SIZE
    return height / 288


def layout_rules(market: Market, size: tuple[int, int], area: SafeArea | None = None, *,
                 burned: bool = True) -> LayoutRules:
    """How the market's lines are laid out in cues and rows: its characters per row and reading speed and,
    when burned in, rows no wider than the safe area at the font size."""
    row_width = 0.0
    if burned:
        font_px, left, right = _geometry(market, size, area or safe_area(*size))
        row_width = (size[0] - left - right) / font_px
    return LayoutRules(max_chars=market.subtitles.max_chars_per_line, reading_cps=market.style.reading_speed_cps,
                       row_width=row_width)


def _geometry(market: Market, size: tuple[int, int], area: SafeArea) -> tuple[float, int, int]:
    """(font size in px, left margin, right margin) of the market's subtitles on a `size` picture."""
    style = market.subtitles
    k = text_scale(size)
    font_px, outline, shadow = round(style.font_size * k, 1), round(style.outline * k, 1), round(style.shadow * k, 1)
    # libass places the line box at the margin; the outline, shadow and low marks (Devanagari, Thai)
    # reach past it, so they get room of their own.
    ink = math.ceil(outline + shadow + font_px * 0.1)
    left, right, _, _ = area.margins(*size)
    return font_px, left + ink, right + ink


def market_subtitles(cues: Sequence[Cue], market: Market, size: tuple[int, int],
                     area: SafeArea | None = None, *, burned: bool = True,
                     end_ms: int = 0) -> tuple[pysubs2.SSAFile, ChosenFont, Layout]:
    """The cues laid out (localize.stages.render.layout) as an SSAFile for a `size` (width, height) picture,
    the font they are set in, and how each line was laid out.

    Bottom-centred; the bottom margin is the market's ``margin_v`` or the safe area's bottom inset,
    whichever is larger, and the side margins are the safe area's (wider on the right, where the
    apps' buttons are). Text is sized by `text_scale`. Right-to-left scripts are laid out by libass
    (FriBidi). `burned`: the font must be installed here (ConfigError if not), and rows must fit the
    picture's width. `end_ms`: the video's end, how far the last line may be extended to be read.
    """
    width, height = size
    font = choose_font(market.subtitles.font, market.language, tuple(c.text for c in cues), check=burned)
    area = area or safe_area(width, height)
    layout = layout_cues(cues, layout_rules(market, size, area, burned=burned), end_ms=end_ms)
    style = msgspec.structs.replace(market.subtitles, font=font.family)
    subs = build_ssa(layout.cues, style=style, play_res=size)
    default = subs.styles["Default"]
    font_px, left, right = _geometry(market, size, area)
    k = text_scale(size)
    default.fontsize, default.outline, default.shadow = font_px, round(style.outline * k, 1), round(style.shadow * k, 1)
    ink = left - area.margins(width, height)[0]
    default.marginl, default.marginr = left, right
    default.marginv = max(default.marginv, area.margins(width, height)[3] + ink)
    return subs, font, layout


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


__all__ = ["VERTICAL_TEXT", "label_subtitles", "layout_rules", "market_subtitles", "text_scale"]
