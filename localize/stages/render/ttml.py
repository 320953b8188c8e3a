"""TTML in the IMSC 1.1 Text Profile (the timed text Netflix and other platforms take for delivery).

One ``<p>`` per cue, its rows separated by ``<br/>``, timed in media time (``HH:MM:SS.mmm``), in one
region along the bottom of the picture, centred, white sans-serif on the video. The text is escaped for
XML; characters XML 1.0 cannot carry are removed before (``subtitles.clean_text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

IMSC_TEXT_PROFILE = "http://www.w3.org/ns/ttml/profile/imsc1.1/text"

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"
    xmlns:tts="http://www.w3.org/ns/ttml#styling" xmlns:ttm="http://www.w3.org/ns/ttml#metadata"
    ttp:timeBase="media" ttp:cellResolution="32 15" ttp:contentProfiles="{profile}" xml:lang={lang}>
  <head>
    <styling>
      <style xml:id="dialogue" tts:color="white" tts:fontFamily="proportionalSansSerif" tts:fontSize="100%"
             tts:lineHeight="125%" tts:textAlign="center" tts:textOutline="black 5%"/>
    </styling>
    <layout>
      <region xml:id="bottom" tts:origin="10% 10%" tts:extent="80% 80%" tts:displayAlign="after"/>
    </layout>
  </head>
  <body region="bottom" style="dialogue">
    <div>
"""
_TAIL = """    </div>
  </body>
</tt>
"""


def clock(ms: int) -> str:
    """A TTML clock-time expression, HH:MM:SS.mmm."""
    ms = min(max(ms, 0), 99 * 3_600_000 + 3_599_999)  # two digits of hours
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def ttml_document(cues: Sequence[tuple[int, int, Sequence[str]]], *, language: str = "") -> str:
    """An IMSC 1.1 Text Profile document of (start ms, end ms, rows) cues; `language` is a BCP 47 tag
    ('' where unknown, as TTML allows)."""
    parts = [_HEAD.format(profile=IMSC_TEXT_PROFILE, lang=quoteattr(language))]
    for n, (start, end, rows) in enumerate(cues, start=1):
        body = "<br/>".join(escape(r) for r in rows)
        parts.append(f'      <p xml:id="c{n}" begin="{clock(start)}" end="{clock(max(end, start))}">{body}</p>\n')
    parts.append(_TAIL)
    return "".join(parts)


__all__ = ["IMSC_TEXT_PROFILE", "clock", "ttml_document"]
