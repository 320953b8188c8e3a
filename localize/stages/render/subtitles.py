"""Subtitle files in and out: read through pysubs2 (SRT, VTT, ASS and what pysubs2 reads); written as SRT,
WebVTT, ASS and TTML (IMSC 1.1 Text Profile).

Any text (a reviewer's edit, a translation, a recognised line) is cleaned before it is written
(:func:`clean_text`: line separators of every kind to rows, no empty rows, no control characters, no
``-->``), then escaped for each format: ``& < >`` in WebVTT and TTML, ``{ } \\`` in ASS (libass's
escapes), so that no text can end a cue, start another, or become markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import charset_normalizer
import pysubs2
import pysubs2.formats

from localize.core.artifacts import Script, Word
from localize.core.errors import SubtitleError
from localize.core.jsonio import atomic_write_text
from localize.core.media.text import clean_text
from localize.stages.render.layout import LayoutRules, break_rows
from localize.stages.render.subtitle_check import check_timed_text, normalise_vtt
from localize.stages.render.ttml import ttml_document

if TYPE_CHECKING:
    from localize.core.markets import SubtitleStyle

# The encodings subtitle files come in: Unicode (with a BOM or without), Chinese GB2312/GBK/GB18030, and
# Windows-1252 from Western tools. charset-normalizer picks among them by how cleanly each reads.
_ENCODINGS = ("utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "gb18030", "cp1252")
_READS_ENCODINGS = "UTF-8, UTF-16, UTF-32, GB18030 or Windows-1252"
# Short Latin-1 text also decodes as gb18030, into CJK characters glued to Latin letters ("Ação" -> "A玢o"),
# and charset-normalizer prefers the multi-byte reading when both read cleanly.
_CJK_GLUED_TO_LATIN = re.compile(r"[A-Za-z][\u4e00-\u9fff]|[\u4e00-\u9fff][A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str
    speaker: str = ""  # ASS/SSA "Name" (actor) field where the file has one
    id: str = ""  # the script line it shows, where it comes from one
    words: tuple[Word, ...] = ()  # word timings of `text`, where known (the source's own words)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:  # bytes that are valid UTF-8 are UTF-8 (short text also reads as Windows-1252, as mojibake)
        text = data.decode("utf-8-sig")
        if "\x00" not in text:  # UTF-16 without a BOM is valid UTF-8 too, with a NUL every other byte
            return text
    except UnicodeDecodeError:
        pass
    for match in charset_normalizer.from_bytes(data, cp_isolation=list(_ENCODINGS)):
        text = str(match)
        if match.encoding != "gb18030" or len(_CJK_GLUED_TO_LATIN.findall(text)) * 5 <= len(_CJK.findall(text)):
            return text
    raise SubtitleError(path, f"is not text in an encoding localize reads ({_READS_ENCODINGS})",
                        "re-save it as UTF-8 SRT")


_VTT_TAG = re.compile(r"<[^>]*>")  # <00:01.500> timestamps, <c>, <v Name>, <i>...
_KNOWN = {**pysubs2.formats.FILE_EXTENSION_TO_FORMAT_IDENTIFIER, ".sbv": "srt"}
_CHECKED = {".srt": "srt", ".vtt": "vtt", ".sbv": "sbv"}
READS = "SRT, WebVTT, ASS/SSA, SBV, TTML, SAMI, MPL2, MicroDVD"


def load_subtitles(path: str | Path, *, fps: float | None = None) -> tuple[Cue, ...]:
    """Timed cues of a subtitle file; `fps` is needed for frame-based MicroDVD files."""
    path = Path(path)
    if not path.is_file():
        raise SubtitleError(path, "no such subtitle file", "check the path")
    text = _decode(path).replace("\r\n", "\n").replace("\r", "\n")  # pysubs2 splits rows at LF only
    suffix = path.suffix.lower()
    fmt = _KNOWN.get(suffix) if suffix != ".txt" else None
    if fmt is None:
        try:
            fmt = pysubs2.formats.autodetect_format(text)
        except pysubs2.exceptions.Pysubs2Error:
            raise SubtitleError(path, f"format not recognised (localize reads {READS})",
                                "convert it to SRT") from None
    checked = _CHECKED.get(suffix) or (fmt if fmt in ("srt", "vtt") else None)
    problem = check_timed_text(text, checked) if checked else None
    if problem:
        raise SubtitleError(path, problem, "fix that cue and re-run")
    if fmt == "vtt":
        text = normalise_vtt(text)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt, fps=fps)
    except pysubs2.exceptions.UnknownFPSError:
        raise SubtitleError(path, "MicroDVD subtitles count frames, and no frame rate was given",
                            "pass the video's frame rate (fps=...) or convert it to SRT") from None
    except pysubs2.exceptions.Pysubs2Error as exc:
        raise SubtitleError(path, f"not a subtitle format localize reads ({exc}; it reads {READS})",
                            "convert it to SRT") from exc
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, SyntaxError) as exc:  # SyntaxError: XML
        raise SubtitleError(path, f"malformed {fmt} file ({type(exc).__name__}: {exc})", "fix or re-export it") from exc
    events = [e for e in subs.events if not e.is_comment and e.end > e.start]
    rows = [_rows(ass_plain(e.text) if fmt in ("ass", "ssa") else e.plaintext, vtt=fmt == "vtt") for e in events]
    if fmt == "vtt" and sum(e.end - e.start < 50 for e in events) * 4 >= len(events):  # YouTube auto-captions
        rows = _drop_rolling_repeats(rows)
    cues = tuple(
        Cue(start_ms=int(e.start), end_ms=int(e.end), text=" ".join(" ".join(r).split()), speaker=e.name.strip())
        for e, r in zip(events, rows, strict=True) if any(x.strip() for x in r)
    )
    if not cues:
        raise SubtitleError(path, "holds no subtitle cues", "pass a file with timed text")
    return cues


def _rows(text: str, *, vtt: bool) -> list[str]:
    if vtt:
        text = html.unescape(_VTT_TAG.sub("", text))
    return [row.strip() for row in text.splitlines() if row.strip()]


def ass_text(text: str) -> str:
    """Clean text as ASS event text: rows joined with \\N, braces escaped as libass reads them (\\{ \\}), and a
    backslash that would start an escape (\\N \\n \\h \\{ \\}) followed by a word joiner, as ffmpeg does."""
    out = []
    rows = clean_text(text).split("\n")
    for row in rows:
        piece = []
        for i, ch in enumerate(row):
            if ch in "{}":
                piece.append("\\" + ch)
            elif ch == "\\" and row[i + 1:i + 2] in ("N", "n", "h", "{", "}"):
                piece.append("\\\u2060")
            else:
                piece.append(ch)
        out.append("".join(piece))
    return "\\N".join(out)


_ASS_TOKEN = re.compile(r"\\\u2060|\\[Nn]|\\h|\\[{}]|\{[^}]*\}")


def ass_plain(text: str) -> str:
    """ASS event text as plain rows ("\n"): the inverse of :func:`ass_text`; override blocks dropped."""
    def token(m: re.Match[str]) -> str:
        t = m.group(0)
        return {"\\\u2060": "\\", "\\N": "\n", "\\n": "\n", "\\h": "\u00a0", "\\{": "{", "\\}": "}"}.get(t, "")
    return _ASS_TOKEN.sub(token, text)


def _drop_rolling_repeats(rows: list[list[str]]) -> list[list[str]]:
    """YouTube auto-captions repeat the previous cue's last row on top of each cue: drop the repeat."""
    out: list[list[str]] = []
    last = ""
    for r in rows:
        kept = r[1:] if r and last and r[0] == last else r
        out.append(kept)
        if r:
            last = r[-1]
    return out


def _ass_colour(hex_rgb: str) -> pysubs2.Color:
    value = hex_rgb.lstrip("#")
    return pysubs2.Color(int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), 0)


def build_ssa(cues: Sequence[Cue], *, style: SubtitleStyle, play_res: tuple[int, int] = (0, 0)) -> pysubs2.SSAFile:
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
        # A cue laid out already (localize.stages.render.layout) keeps its rows.
        plain = clean_text(cue.text)
        if not plain:
            continue
        rows = plain.split("\n") if "\n" in plain else _wrap_rows(plain, style.max_chars_per_line)
        text = "\\N".join(ass_text(r) for r in rows)
        # Times in centiseconds, ASS's precision, so the SRT, VTT and ASS written from this file agree.
        start = (cue.start_ms + 5) // 10 * 10
        end = max((cue.end_ms + 5) // 10 * 10, start + 10)
        subs.append(pysubs2.SSAEvent(start=start, end=end, name=cue.speaker, text=text))
    return subs


def wrap(text: str, width: int) -> str:
    """Break a line into at most two balanced rows of at most `width` characters (ASS \\N), at spaces,
    or between characters in Chinese, Japanese and Thai (never before closing punctuation nor between
    a letter and its marks). A line that does not fit gets the two rows whose longer one is shortest."""
    return "\\N".join(_wrap_rows(text, width))


def _wrap_rows(text: str, width: int) -> tuple[str, ...]:
    return tuple(break_rows(text, LayoutRules(max_chars=max(width, 1)), strict=False) or (text,))


SUBTITLE_FORMATS = ("srt", "vtt", "ass", "ttml")
MAX_MS = 99 * 3_600_000 + 3_599_999  # 99:59:59.999: readers take two digits of hours


def subtitle_text(subs: pysubs2.SSAFile, fmt: str, *, language: str = "") -> str:
    """The dialogue of `subs` (built by :func:`build_ssa`) as an 'srt', 'vtt', 'ass' or 'ttml' file's text.

    SRT, WebVTT and TTML are written here from each event's plain rows, not converted by pysubs2, so
    that text is never read as markup: WebVTT and TTML escape ``& < >``; SRT has no escapes, so a '<'
    that would open a tag is followed by a word joiner, and no row is empty or holds ``-->``
    (:func:`clean_text`). SRT readers still take ``{\\...}`` for an ASS override, as they always have."""
    if fmt == "ass":
        return subs.to_string("ass")
    cues = [(int(e.start), int(e.end), rows) for e in subs.events if not e.is_comment
            for rows in [clean_text(ass_plain(e.text)).split("\n")] if rows != [""]]
    if fmt == "ttml":
        return ttml_document(cues, language=language)
    if fmt not in ("srt", "vtt"):
        raise ValueError(f"unknown subtitle format {fmt!r}")
    sep = "," if fmt == "srt" else "."
    blocks = ["WEBVTT\n"] if fmt == "vtt" else []
    for n, (start, end, rows) in enumerate(cues, start=1):
        text = "\n".join(_srt_row(r) if fmt == "srt" else html.escape(r, quote=False) for r in rows)
        blocks.append(f"{n}\n{_stamp(start, sep)} --> {_stamp(max(end, start), sep)}\n{text}\n")
    return "\n".join(blocks)


_TAG_START = re.compile(r"<(?=[A-Za-z/])")


def _srt_row(row: str) -> str:
    """SRT has no escapes: a word joiner after '<' keeps a tag-like '<b>' text, not markup, in every reader."""
    return _TAG_START.sub("<\u2060", row)


def _stamp(ms: int, sep: str) -> str:
    ms = min(max(ms, 0), MAX_MS)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def write_subtitles(subs: pysubs2.SSAFile, directory: Path, stem: str = "subtitles", *,
                    language: str = "") -> tuple[Path, ...]:
    """``<stem>.srt``, ``.vtt``, ``.ass`` and ``.ttml`` (IMSC 1.1 Text Profile) in `directory`, atomically;
    `language`: the subtitles' BCP 47 tag, written in the TTML."""
    out = []
    for fmt in SUBTITLE_FORMATS:
        path = directory / f"{stem}.{fmt}"
        atomic_write_text(path, subtitle_text(subs, fmt, language=language))
        out.append(path)
    return tuple(out)


def save_script(script: Script, path: str | Path) -> Path:
    """Write a script as its JSON artifact, or as a subtitle file when `path` ends in .srt, .vtt, .ass or .ttml
    (one cue per line, the speaker kept in ASS); atomic, like every artifact."""
    from localize.core import jsonio
    from localize.core.markets import SubtitleStyle

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in SUBTITLE_FORMATS:
        return jsonio.save(script, path)
    cues = [Cue(start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, speaker=ln.speaker) for ln in script.lines]
    atomic_write_text(path, subtitle_text(build_ssa(cues, style=SubtitleStyle()), kind, language=script.language))
    return path
