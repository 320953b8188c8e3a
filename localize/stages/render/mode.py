"""Where a market's subtitles go when it leaves ``render.subtitles`` at "auto" (the default).

A viewer who cannot read the subtitles burned into the source's picture should not see them: when
the source has burned-in subtitles that are not in the market's language, they are painted out
(``picture.remove_source_subtitles = "auto"``) and the market's own subtitles are burned in their
place, with the selectable soft track kept beside ("both"). Otherwise the render keeps today's soft
track only ("soft"): same-language markets, sources without burned-in subtitles (or OCR off), and
burned text in the market's script whose language localize cannot tell from its letters.

The burned text is taken to be in the source's language when it is in that language's script
(Chinese characters in a Chinese episode), so Spanish subtitles are painted out of a pt-BR render
even though both are Latin. Text in another script than the source's (English subtitles on a Chinese
episode) is judged by its script alone: kept for en-US and pt-BR alike, painted out for th-TH.
"""

from __future__ import annotations

from collections.abc import Sequence

from localize.stages.render.fonts import script_for, text_script

_HAN = frozenset({"cjk", "japanese"})  # Japanese writes with Chinese characters too


def _same_script(a: str, b: str) -> bool:
    return a == b or {a, b} <= _HAN


def subtitle_mode(asked: str, *, burned_texts: Sequence[str], source_language: str, market_language: str) -> str:
    """The ``render.subtitles`` mode to render with: `asked` unless it is "auto" (see the module's doc).

    `burned_texts`: what OCR read of the source's burned-in subtitles (empty: none, or not read)."""
    if asked != "auto":
        return asked
    texts = [t for t in burned_texts if t.strip()]
    if not texts or source_language.split("-")[0].lower() == market_language.split("-")[0].lower():
        return "soft"
    seen = text_script(" ".join(texts))
    if _same_script(seen, script_for(source_language, texts).script):
        return "both"  # the source's language, which is not the market's
    return "soft" if _same_script(seen, script_for(market_language).script) else "both"


__all__ = ["subtitle_mode"]
