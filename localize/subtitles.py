"""Subtitle files in and out through pysubs2 (SRT, VTT, ASS and what pysubs2 reads)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from .errors import SubtitleError
from .jsonio import atomic_write_text

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Latin-1 text also decodes as gb18030, into CJK characters glued to Latin letters ("Ação" -> "A玢o").
_CJK_GLUED_TO_LATIN = re.compile(r"[A-Za-z][\u4e00-\u9fff]|[\u4e00-\u9fff][A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")  # Chinese subtitles saved as GB2312/GBK/GB18030
        if len(_CJK_GLUED_TO_LATIN.findall(text)) * 5 <= len(_CJK.findall(text)):
            return text
    except UnicodeDecodeError:
        pass
    return raw.decode("cp1252", errors="replace")  # Western subtitles from Windows tools


def load_subtitles(path: str | Path) -> tuple[Cue, ...]:
    path = Path(path)
    if not path.is_file():
        raise SubtitleError(path, "no such subtitle file", "check the path")
    text = _decode(path)
    fmt = None
    if path.suffix.lower() == ".vtt":
        fmt = "vtt"
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except pysubs2.exceptions.Pysubs2Error as exc:
        raise SubtitleError(path, f"not a subtitle format localize reads ({exc})", "convert it to SRT, VTT or ASS") from exc
    except (ValueError, KeyError, IndexError) as exc:
        raise SubtitleError(path, f"malformed subtitle file ({exc})", "fix or re-export it") from exc
    cues = tuple(
        Cue(start_ms=int(e.start), end_ms=int(e.end), text=" ".join(e.plaintext.split()))
        for e in subs.events
        if not e.is_comment and e.plaintext.strip() and e.end > e.start
    )
    if not cues:
        raise SubtitleError(path, "holds no subtitle cues", "pass a file with timed text")
    return cues


def _ass_colour(hex_rgb: str) -> pysubs2.Color:
    value = hex_rgb.lstrip("#")
    return pysubs2.Color(int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), 0)


def build_ssa(cues: Sequence[Cue], *, style: object, play_res: tuple[int, int] = (0, 0)) -> pysubs2.SSAFile:
    """An SSAFile with one 'Default' style built from a market's SubtitleStyle."""
    subs = pysubs2.SSAFile()
    scale = 1.0
    if play_res[0] and play_res[1]:
        # Sizes in a market's style are for ASS's classic 288-line canvas; scale them to the video.
        subs.info["PlayResX"], subs.info["PlayResY"] = str(play_res[0]), str(play_res[1])
        scale = play_res[1] / 288
    s = subs.styles["Default"]
    s.fontname = style.font
    s.fontsize = round(style.font_size * scale, 1)
    s.bold = style.bold
    s.primarycolor = _ass_colour(style.primary_colour)
    s.outlinecolor = _ass_colour(style.outline_colour)
    s.outline = round(style.outline * scale, 1)
    s.shadow = round(style.shadow * scale, 1)
    s.marginv = round(style.margin_v * scale)
    s.alignment = pysubs2.Alignment.BOTTOM_CENTER
    for cue in cues:
        subs.append(pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=wrap(cue.text, style.max_chars_per_line)))
    return subs


def wrap(text: str, width: int) -> str:
    """Break a line into at most two rows at a space near the middle (ASS \\N)."""
    if len(text) <= width:
        return text
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text[: len(text) // 2] + "\\N" + text[len(text) // 2 :]
    mid = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return text[:mid] + "\\N" + text[mid + 1 :]


def write_subtitles(subs: pysubs2.SSAFile, directory: Path, stem: str = "subtitles") -> tuple[Path, ...]:
    out = []
    for ext, fmt in (("srt", "srt"), ("vtt", "vtt"), ("ass", "ass")):
        path = directory / f"{stem}.{ext}"
        atomic_write_text(path, subs.to_string(fmt))
        out.append(path)
    return tuple(out)
